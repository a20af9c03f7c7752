"""The service managers, by name: systemd on real hosts, process where systemd is not PID 1. Both
apply a release, start what is down, restart services, stop, and report each service's state; and the
programs each runs, with the Debian package of each, for preflight."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.process_manager import ProcessManager
from swarmdeploy.deploy.releases import Release
from swarmdeploy.deploy.services import NGINX
from swarmdeploy.deploy.systemd_manager import PROGRAMS as SYSTEMD_PROGRAMS
from swarmdeploy.deploy.systemd_manager import SystemdManager
from swarmdeploy.validators.systemd import SYSTEMD_ANALYZE

Report = Callable[[str], None]


class ServiceManager(Protocol):
    def apply(self, release: Release, previous: Release | None, report: Report) -> None: ...

    def start(self, release: Release, report: Report) -> list[str]: ...

    def restart(self, release: Release, name: str | None, report: Report) -> None: ...

    def stop(self, release: Release | None) -> None: ...

    def status(self, release: Release | None) -> list[dict[str, Any]]: ...


MANAGERS: dict[str, Callable[[Layout], ServiceManager]] = {"process": ProcessManager, "systemd": SystemdManager}


def programs_needed(kind: str, model: dict[str, Any], verify: bool) -> dict[str, str]:
    """Every program a deploy with the manager `kind` runs outside Python -> the Debian package that provides it.
    What procps would tell (pids, an nginx master's workers) is read from /proc instead, so a minimal host
    needs none of it."""
    needed = {NGINX: "nginx"}
    if kind == "systemd":
        # Preflight's `systemd-analyze verify` would skip without it, and pass units systemd then refuses.
        needed |= {program: "systemd" for program in (*SYSTEMD_PROGRAMS, SYSTEMD_ANALYZE.program)}
    elif model["server"]["message_queue_managed"]:
        needed["redis-server"] = "redis-server"
    if verify:
        needed["ss"] = "iproute2"  # verify's host check lists listening sockets with it (through testinfra)
    return needed


def service_manager(kind: str, layout: Layout) -> ServiceManager:
    return MANAGERS[kind](layout)


def manager_of(release: Release | None) -> str:
    """The manager a release was deployed with; with none deployed, the process manager (it finds what
    a failed first deploy left running by its pid files)."""
    return release.info["service_manager"] if release else "process"
