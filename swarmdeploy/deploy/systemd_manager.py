"""The systemd service manager for real hosts: link the release's units, env file and nginx site
into place, then daemon-reload, restart the instances one at a time, and reload nginx; start, restart
and status as their systemctl equivalents."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from swarmdeploy.deploy.health import instance_health, wait_for
from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.nginx_control import ApplyError, confirm_reload, workers
from swarmdeploy.deploy.releases import Release, replace_link
from swarmdeploy.deploy.services import NGINX, UnknownService

Runner = Callable[[list[str]], subprocess.CompletedProcess]


def run_command(argv: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        return subprocess.CompletedProcess(argv, 127, "", f"{argv[0]}: command not found")


class SystemdManager:
    def __init__(self, layout: Layout, runner: Runner = run_command, wait_healthy: bool = True) -> None:
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
            root / "etc/nginx/conf.d" / f"{name}.conf": current / "nginx" / f"{name}.conf",
        }

    def units(self, release: Release) -> dict[str, str]:
        """The release's services, named as the process manager names them -> their systemd units."""
        name = release.model["name"]
        return {**{f"instance-{port}": f"{name}@{port}.service" for port in release.model["server"]["ports"]},
                "nginx": "nginx.service"}

    def _run(self, *argv: str) -> None:
        result = self.runner(list(argv))
        if result.returncode != 0:
            raise ApplyError(f"{' '.join(argv)} failed: {(result.stderr or result.stdout).strip()}")

    def _healthy(self, release: Release, port: int) -> None:
        unit = f"{release.model['name']}@{port}.service"
        if self.wait_healthy and not wait_for(lambda: instance_health(release.model["server"]["bind"], port)):
            raise ApplyError(f"{unit} did not answer /healthz: journalctl -u {unit}")

    def apply(self, release: Release, previous: Release | None, report=print) -> None:
        model = release.model
        name = model["name"]
        for path, target in self.links(release).items():
            replace_link(path, target)
        self._run("systemctl", "daemon-reload")
        self._run("systemctl", "enable", f"{name}.target")
        for port in model["server"]["ports"]:
            unit = f"{name}@{port}.service"
            self._run("systemctl", "enable", unit)
            self._run("systemctl", "restart", unit)
            self._healthy(release, port)
            report(f"{unit} restarted")
        old_ports = set(previous.model["server"]["ports"]) if previous else set()
        for port in sorted(old_ports - set(model["server"]["ports"])):
            self._run("systemctl", "disable", "--now", f"{name}@{port}.service")
        self._run(NGINX, "-t")
        pid_file = Path(model["proxy"]["pid_file"])
        master = int(pid_file.read_text()) if self.wait_healthy and pid_file.exists() else None
        before = workers(master) if master else set()
        self._run("systemctl", "reload", "nginx")
        if master:
            confirm_reload(master, before, model["proxy"]["log_dir"])
        report("nginx reloaded")

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
        self._run("systemctl", "restart", units[name])
        if name.startswith("instance-"):
            self._healthy(release, int(name.split("-")[1]))
        report(f"restarted {units[name]}")

    def stop(self, release: Release | None) -> None:
        if release is not None:
            self._run("systemctl", "stop", f"{release.model['name']}.target")

    def status(self, release: Release | None) -> list[dict[str, Any]]:
        rows = []
        for service, unit in (self.units(release) if release else {}).items():
            shown = self.runner(["systemctl", "show", "--property=ActiveState,MainPID", unit]).stdout
            properties = dict(line.partition("=")[::2] for line in shown.splitlines())
            row: dict[str, Any] = {"service": service, "unit": unit, "pid": int(properties.get("MainPID") or 0) or None,
                                   "running": properties.get("ActiveState") == "active"}
            if service.startswith("instance-"):
                row["health"] = instance_health(release.model["server"]["bind"], int(service.split("-")[1]))
            rows.append(row)
        return rows
