"""The systemd service manager for real hosts: link the release's units, env file and nginx site
into place, then daemon-reload, restart the instances one at a time, and reload nginx (confirmed by its
new workers); start, restart and stop as their systemctl equivalents, and status as systemd reports each
unit (state, restarts, the journal's last lines)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from swarmdeploy.deploy.drain import NginxSite, rolling_restart
from swarmdeploy.deploy.health import instance_health, wait_for
from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.nginx_control import ApplyError, confirm_reload, workers
from swarmdeploy.deploy.releases import Release, replace_link
from swarmdeploy.deploy.services import NGINX, UnknownService

Runner = Callable[[list[str]], subprocess.CompletedProcess]

# What this manager runs besides nginx, each from Debian's systemd package (preflight names it when missing).
PROGRAMS = ("systemctl", "journalctl")
NGINX_UNIT = "nginx.service"
NGINX_LOG_DIR = "var/log/nginx"  # Debian's nginx.conf logs there; the profile's proxy.log_dir is the process manager's
COMMAND_TIMEOUT = 120
JOURNAL_LINES = 10
SHOWN = ("ActiveState", "SubState", "MainPID", "NRestarts")


def run_command(argv: list[str]) -> subprocess.CompletedProcess:
    """argv's result; a program that is missing or hangs is a failed result, not an exception."""
    try:
        return subprocess.run(argv, check=False, capture_output=True, text=True, errors="replace",
                              timeout=COMMAND_TIMEOUT)
    except FileNotFoundError:
        return subprocess.CompletedProcess(argv, 127, "", f"{argv[0]}: command not found")
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 124, "", f"{argv[0]} did not finish in {COMMAND_TIMEOUT} s")


class SystemdManager:
    def __init__(self, layout: Layout, runner: Runner = run_command, wait_healthy: bool = True) -> None:
        """wait_healthy: wait for /healthz and confirm nginx's reload from /proc (off where a runner only
        records commands)."""
        self.layout = layout
        self.runner = runner
        self.wait_healthy = wait_healthy

    def links(self, release: Release) -> dict[Path, Path]:
        """Stable paths systemd and nginx read -> the file in `current`, so a release switch is one rename."""
        name, current, root = release.model["name"], self.layout.current, self.layout.root
        return {
            root / "etc/systemd/system" / f"{name}@.service": current / "systemd" / f"{name}@.service",
            root / "etc/systemd/system" / f"{name}.target": current / "systemd" / f"{name}.target",
            Path(release.model["server"]["env_file"]): current / "systemd" / f"{name}.env",
            self.site_link(release): current / "nginx" / f"{name}.conf",
        }

    def site_link(self, release: Release) -> Path:
        """Where Debian's nginx reads the site: a link that a drained restart points at a drained copy."""
        return self.layout.root / "etc/nginx/conf.d" / f"{release.model['name']}.conf"

    def units(self, release: Release) -> dict[str, str]:
        """The release's services, named as the process manager names them -> their systemd units."""
        name = release.model["name"]
        return {**{f"instance-{port}": f"{name}@{port}.service" for port in release.model["server"]["ports"]},
                "nginx": NGINX_UNIT}

    def _run(self, *argv: str) -> None:
        result = self.runner(list(argv))
        if result.returncode != 0:
            raise ApplyError(f"{' '.join(argv)} failed: {(result.stderr or result.stdout).strip()}")

    def _show(self, unit: str) -> dict[str, str]:
        shown = self.runner(["systemctl", "show", f"--property={','.join(SHOWN)}", unit]).stdout
        return dict(line.partition("=")[::2] for line in shown.splitlines())

    def _main_pid(self, unit: str) -> int | None:
        return int(self._show(unit).get("MainPID") or 0) or None

    def journal(self, unit: str, lines: int = JOURNAL_LINES) -> list[str]:
        """The unit's last journal lines, as `journalctl -u UNIT` shows them."""
        result = self.runner(["journalctl", "--unit", unit, "--lines", str(lines), "--no-pager", "--output",
                              "short-iso"])
        # journalctl says "-- No entries --" (and "-- Boot ... --" between boots) on lines of its own.
        return [line for line in result.stdout.splitlines() if not line.startswith("-- ")]

    def _healthy(self, release: Release, port: int) -> None:
        """Wait for the instance systemd just started to answer /healthz. Fail as soon as systemd says its
        process is gone: a release that cannot start crash-loops (Restart=on-failure) and would never answer,
        so waiting out START_TIMEOUT only delays the rollback."""
        if not self.wait_healthy:
            return
        unit = f"{release.model['name']}@{port}.service"
        started = self._show(unit).get("MainPID", "0")

        def ready() -> bool:
            if instance_health(release.model["server"]["bind"], port):
                return True
            now = self._show(unit)
            if now.get("ActiveState") != "active" or now.get("MainPID") != started:
                raise ApplyError(f"{unit} exited while starting (systemd: {now.get('ActiveState')}/"
                                 f"{now.get('SubState')}); the end of journalctl -u {unit}:\n"
                                 + "\n".join(self.journal(unit)))
            return False

        if not wait_for(ready):
            raise ApplyError(f"{unit} did not answer /healthz; the end of journalctl -u {unit}:\n"
                             + "\n".join(self.journal(unit)))

    def apply(self, release: Release, previous: Release | None, report=print) -> None:
        model = release.model
        name = model["name"]
        for path, target in self.links(release).items():
            replace_link(path, target)
        self._run("systemctl", "daemon-reload")
        # Enabled, the target, its instances and nginx come back after a reboot without swarmdeploy.
        self._run("systemctl", "enable", f"{name}.target", NGINX_UNIT,
                  *(f"{name}@{port}.service" for port in model["server"]["ports"]))
        site = self._nginx_site(release)
        rolling_restart(release, self, site, report)
        old_ports = set(previous.model["server"]["ports"]) if previous else set()
        for port in sorted(old_ports - set(model["server"]["ports"])):
            self._run("systemctl", "disable", "--now", f"{name}@{port}.service")
        # Active, the target is what `systemctl stop/restart NAME.target` acts on (its instances already run).
        self._run("systemctl", "start", f"{name}.target")
        if site is None:
            self._run(NGINX, "-t")
            self._run("systemctl", "start", NGINX_UNIT)
            report("nginx started")

    def serving(self, release: Release) -> set[int]:
        name = release.model["name"]
        return {port for port in release.model["server"]["ports"]
                if self._show(f"{name}@{port}.service").get("ActiveState") == "active"}

    def restart_instance(self, release: Release, port: int) -> None:
        self._run("systemctl", "restart", f"{release.model['name']}@{port}.service")
        self._healthy(release, port)

    def _nginx_site(self, release: Release) -> NginxSite | None:
        """The running nginx's site, to drain restarts through; None when systemd says nginx is not running."""
        master = self._main_pid(NGINX_UNIT)
        return NginxSite(self.layout, release, self.site_link(release), lambda: self._reload_nginx(master)) \
            if master else None

    def _reload_nginx(self, master: int) -> None:
        """Reload nginx through systemd, confirmed by new workers of the master systemd names (a reload that
        fails keeps the old workers and still exits 0)."""
        self._run(NGINX, "-t")
        before = workers(master) if self.wait_healthy else set()
        self._run("systemctl", "reload", NGINX_UNIT)
        if self.wait_healthy:
            confirm_reload(master, before, str(self.layout.root / NGINX_LOG_DIR))

    def start(self, release: Release, report=print) -> list[str]:
        """`systemctl start` for each of the release's units that is not active; returns their services."""
        started = []
        for row in self.status(release):
            if not row["running"]:
                self._run("systemctl", "start", row["unit"])
                if row["service"].startswith("instance-"):
                    self._healthy(release, int(row["service"].split("-")[1]))
                report(f"started {row['unit']}")
                started.append(row["service"])
        return started

    def restart(self, release: Release, name: str | None = None, report=print) -> None:
        """`systemctl restart` of one service; without a name, what a deploy does (instances one at a
        time, nginx reloaded)."""
        if name is None:
            self.apply(release, release, report)
            return
        units = self.units(release)
        if name not in units:
            raise UnknownService(f"no service {name} in this release: choose from {', '.join(units)}")
        if name.startswith("instance-"):  # drained like a deploy's restarts
            rolling_restart(release, self, self._nginx_site(release), report, [int(name.split("-")[1])])
            return
        self._run("systemctl", "restart", units[name])
        report(f"restarted {units[name]}")

    def stop(self, release: Release | None) -> None:
        """Stop the target and its instances (nginx serves other sites too: it stays up). The target stops the
        instances through PartOf=, but systemctl waits only for the jobs it is given: naming each instance
        makes it return once they are down."""
        if release is not None:
            instances = [unit for service, unit in self.units(release).items() if service.startswith("instance-")]
            self._run("systemctl", "stop", f"{release.model['name']}.target", *instances)

    def status(self, release: Release | None) -> list[dict[str, Any]]:
        """Each unit as systemd reports it: its state, main PID, restarts and the journal's last lines."""
        rows = []
        for service, unit in (self.units(release) if release else {}).items():
            shown = self._show(unit)
            row: dict[str, Any] = {"service": service, "unit": unit, "pid": int(shown.get("MainPID") or 0) or None,
                                   "running": shown.get("ActiveState") == "active",
                                   "active_state": shown.get("ActiveState", "unknown"),
                                   "sub_state": shown.get("SubState", ""),
                                   "restarts": int(shown.get("NRestarts") or 0), "journal": self.journal(unit)}
            if service.startswith("instance-"):
                row["health"] = instance_health(release.model["server"]["bind"], int(service.split("-")[1]))
            rows.append(row)
        return rows
