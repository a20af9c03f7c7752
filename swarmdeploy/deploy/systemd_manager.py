"""The systemd service manager for real hosts: link the release's units, env file and nginx site
into place, then daemon-reload, restart the instances one at a time, and reload nginx."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path

from swarmdeploy.deploy.health import instance_health, wait_for
from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.nginx_control import ApplyError, confirm_reload, workers
from swarmdeploy.deploy.releases import Release
from swarmdeploy.deploy.services import NGINX

Runner = Callable[[list[str]], subprocess.CompletedProcess]


def run_command(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


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

    def _link(self, path: Path, target: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() and path.readlink() == target:
            return
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        temporary.symlink_to(target)
        temporary.replace(path)

    def _run(self, *argv: str) -> None:
        result = self.runner(list(argv))
        if result.returncode != 0:
            raise ApplyError(f"{' '.join(argv)} failed: {(result.stderr or result.stdout).strip()}")

    def apply(self, release: Release, previous: Release | None, report=print) -> None:
        model = release.model
        name = model["name"]
        for path, target in self.links(release).items():
            self._link(path, target)
        self._run("systemctl", "daemon-reload")
        self._run("systemctl", "enable", f"{name}.target")
        for port in model["server"]["ports"]:
            unit = f"{name}@{port}.service"
            self._run("systemctl", "enable", unit)
            self._run("systemctl", "restart", unit)
            if self.wait_healthy and not wait_for(lambda p=port: instance_health(model["server"]["bind"], p)):
                raise ApplyError(f"{unit} did not answer /healthz: journalctl -u {unit}")
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

    def stop(self, release: Release) -> None:
        self._run("systemctl", "stop", f"{release.model['name']}.target")
