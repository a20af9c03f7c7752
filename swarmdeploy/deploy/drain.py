"""Drained rolling restarts: nginx sends no new connection, and no reconnect, to an instance that is about
to stop.

Open-source nginx changes an upstream only by a reload. So before an instance restarts, the site nginx reads
(a link: `conf.d/NAME.conf` under systemd, the process manager's own conf dir) is pointed at a copy of the
release's site rendered with that instance marked `down`, and nginx is reloaded; once the instance answers
/healthz, the link points at the release's own site again (reloaded) before the next one is marked: two reloads
per instance, so no nginx worker, old or new, has every instance it knows either `down` or stopped. Clients of
the stopping instance see its transports close (swarmdeploy.server.runtime) and reconnect at once, to the
instances nginx still sends to; WebSockets of the others stay open on nginx's old workers until
`worker_shutdown_timeout`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.releases import Release, replace_link
from swarmdeploy.templating import render_template

Report = Callable[[str], None]
SITE_TEMPLATE = "nginx/site.conf.j2"
# After the reload that puts a restarted instance back, before the next is drained: old workers forward the
# connections they accepted before the reload (seen up to ~1.5 s late behind a reconnect storm of 1,000 clients
# on 2 busy cores) while the instance their site sends them to still runs.
SETTLE_S = 2.0


class Instances(Protocol):
    """A service manager's instances of a release, by port."""

    def serving(self, release: Release) -> set[int]:
        """The release's ports with an instance running now."""

    def restart_instance(self, release: Release, port: int) -> None:
        """Start the instance (stopping it first when it runs) and return once it answers /healthz."""


def site_file(release: Release) -> str:
    """The release's site, bundle-relative."""
    return f"nginx/{release.model['name']}.conf"


def drained_site(model: dict, draining: set[int]) -> str:
    return render_template(SITE_TEMPLATE, {**model, "proxy": {**model["proxy"], "draining_ports": sorted(draining)}})


def undrainable(release: Release) -> str | None:
    """Why the restarts of this release cannot be drained; None when they can."""
    if len(release.model["server"]["ports"]) < 2:
        return "a single instance has no other to take its clients"
    if drained_site(release.model, set()) != (release.path / site_file(release)).read_text():
        # Rendered by another swarmdeploy version: a copy from this template could differ in more than `down`.
        return f"release {release.id} has a site this swarmdeploy does not render"
    return None


@dataclass
class NginxSite:
    """The deployment's site as a running nginx reads it: `link` points at the release's own site (through
    `current`) or at a drained copy; `reload` reloads nginx and returns once no old worker accepts."""

    layout: Layout
    release: Release
    link: Path
    reload: Callable[[], None]
    draining: frozenset[int] | None = None  # what nginx runs now; None: not yet this release's site
    settle_s: float = SETTLE_S

    @property
    def _copy(self) -> Path:
        return self.layout.state / "drain" / f"{self.release.model['name']}.conf"

    def route(self, draining: set[int]) -> bool:
        """nginx sends nothing new to the `draining` ports of this release, and every connection to the others;
        False when it already did (no reload)."""
        if self.draining == draining:
            return False
        if draining:
            self._copy.parent.mkdir(parents=True, exist_ok=True)
            self._copy.write_text(drained_site(self.release.model, draining))
            replace_link(self.link, self._copy)
        else:
            replace_link(self.link, self.layout.current / site_file(self.release))
        self.reload()
        self.draining = frozenset(draining)
        if not draining:
            self._copy.unlink(missing_ok=True)
        return True


def rolling_restart(release: Release, instances: Instances, site: NginxSite | None, report: Report,
                    ports: list[int] | None = None) -> None:
    """Bring the instances of `release` (or only `ports`) up one at a time, each drained first when nginx runs
    (`site`) and the release allows it, and leave nginx on the release's own site. Instances that are not
    running start first, before a reload puts them in nginx's upstream."""
    ports = ports or release.model["server"]["ports"]
    running = instances.serving(release)
    why_not = undrainable(release) if site else None
    if why_not:
        report(f"restarts are not drained: {why_not}")
    for port in (p for p in ports if p not in running):
        instances.restart_instance(release, port)
        report(f"instance-{port} started")
    for number, port in enumerate(p for p in ports if p in running):
        if site and not why_not:
            if number:
                time.sleep(site.settle_s)
            site.route({port})
            report(f"instance-{port} drained: nginx sends it no new connection")
        instances.restart_instance(release, port)
        report(f"instance-{port} restarted and healthy")
        # Back in before the next is drained: a request an old worker accepted but reaches only later (a TLS
        # handshake queued behind a reconnect storm) then finds this instance when the next one refuses it,
        # instead of a 502 from a worker whose site has this one `down` and the next one gone.
        if site and not why_not and site.route(set()):
            report("nginx reloaded: every worker runs the release's site")
    if site and site.route(set()):  # none was running: the release's site still has to reach nginx
        report("nginx reloaded: every worker runs the release's site")
