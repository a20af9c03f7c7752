"""The process service manager: where systemd is not PID 1 (containers, CI, laptops), run each
service under swarmdeploy's supervisor with pid files and log files in the state's run dir."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from swarmdeploy.deploy.directories import make_directories
from swarmdeploy.deploy.drain import NginxSite, rolling_restart
from swarmdeploy.deploy.health import instance_health, port_open, wait_for
from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.nginx_control import ApplyError, confirm_reload, error_log_tail, started_as, workers
from swarmdeploy.deploy.releases import Release, replace_link
from swarmdeploy.deploy.services import (
    Service,
    base_environment,
    instance_services,
    nginx_config_dir,
    nginx_config_links,
    nginx_service,
    redis_service,
    release_services,
    service_named,
)

STOP_TIMEOUT = 20.0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is not running.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


class ProcessManager:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.run = layout.run
        # Pid files of their own: nginx writes (and deletes) its pid file in the run dir too.
        self.pids = layout.run / "supervise"

    # -- one service -------------------------------------------------------------------------

    def _pid(self, name: str, suffix: str = "pid") -> int | None:
        try:
            pid = int((self.pids / f"{name}.{suffix}").read_text())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def running(self, name: str) -> bool:
        """Its supervisor is alive (the service itself may be between two starts)."""
        return self._pid(name) is not None

    def main_pid(self, name: str) -> int | None:
        """The service's own process, as systemd's MainPID: killing it makes the supervisor start it again."""
        return self._pid(name, "child.pid") if self.running(name) else None

    def log_tail(self, name: str, lines: int = 15) -> str:
        path = self.run / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def _launch(self, service: Service) -> None:
        self.pids.mkdir(parents=True, exist_ok=True)
        (self.run / "nginx").mkdir(exist_ok=True)
        env_files = [f"--env-file={path}" for path in service.env_files]  # = keeps a leading "-" a value
        with (self.run / f"{service.name}.log").open("ab") as log:
            subprocess.Popen(
                [sys.executable, "-m", "swarmdeploy.deploy.supervisor", str(self.pids), service.name,
                 service.stop_signal.name, *env_files, "--", *service.argv],
                env={**base_environment(), **service.env}, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, cwd=self.run, start_new_session=True)
        if not wait_for(lambda: self.running(service.name), 10):
            raise ApplyError(f"{service.name} did not start:\n{self.log_tail(service.name)}")

    def _start(self, service: Service) -> None:
        """Launch it and wait until it serves: /healthz for an instance, its port for the others."""
        self._launch(service)
        if service.http_health:
            if not wait_for(lambda: instance_health(service.host, service.port) is not None):
                raise ApplyError(f"{service.name} did not answer /healthz:\n{self.log_tail(service.name)}")
        elif not wait_for(lambda: port_open(service.host, service.port)):
            nginx_said = f"\n{error_log_tail(service.error_log_dir)}" if service.error_log_dir else ""
            raise ApplyError(f"{service.name} did not listen on {service.port}:\n{self.log_tail(service.name)}"
                             + nginx_said)

    def _halt(self, name: str) -> None:
        pid = self._pid(name)
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        if not wait_for(lambda: not pid_alive(pid), STOP_TIMEOUT):
            child = self._pid(name, "child.pid")
            for stuck in filter(None, (child, pid)):
                os.kill(stuck, signal.SIGKILL)

    def running_instances(self) -> list[str]:
        return sorted(p.stem for p in self.pids.glob("instance-*.pid") if not p.stem.endswith(".child")
                      and self.running(p.stem)) if self.pids.is_dir() else []

    # -- a release ---------------------------------------------------------------------------

    def _prepare(self, release: Release, report) -> None:
        """What the release's services need on disk: nginx's directories, the links nginx reads its config
        through, and the environment file at the path the unit names (linked into `current`, as the systemd
        manager links it)."""
        try:
            made = make_directories(release.model)
        except OSError as error:  # preflight said it could; something changed since
            raise ApplyError(f"cannot create a directory nginx writes to: {error}") from error
        for directory in made:
            report(f"created {directory}")
        name = release.model["name"]
        replace_link(Path(release.model["server"]["env_file"]), self.layout.current / "systemd" / f"{name}.env")
        for path, target in nginx_config_links(release, self.layout.current, self.run).items():
            replace_link(path, target)

    def _services(self, release: Release) -> list[Service]:
        return release_services(release, self.layout.current, self.run)

    def apply(self, release: Release, previous: Release | None = None, report=print) -> None:
        """Bring the services to this release: the queue, the instances one at a time (each drained first
        while nginx runs), those of no release stopped, then nginx reloaded (or started)."""
        self._prepare(release, report)
        redis = redis_service(release, self.run)
        if redis and not self.running(redis.name):
            self._start(redis)
            report(f"started redis on 127.0.0.1:{redis.port}")
        site = self._nginx_site(release, report)
        rolling_restart(release, self, site, report)
        wanted = {service.name for service in instance_services(release, self.layout.current)}
        for name in set(self.running_instances()) - wanted:
            self._halt(name)
            report(f"stopped {name} (not in this release)")
        if site is None:
            self._halt("nginx")  # its supervisor, should it be between two starts of nginx
            self._start(nginx_service(release, self.layout.current, self.run))
            report("nginx started")

    def serving(self, release: Release) -> set[int]:
        return {port for port in release.model["server"]["ports"] if self.running(f"instance-{port}")}

    def restart_instance(self, release: Release, port: int) -> None:
        service = service_named(instance_services(release, self.layout.current), f"instance-{port}")
        self._halt(service.name)
        self._start(service)

    def _nginx_site(self, release: Release, report) -> NginxSite | None:
        """The running nginx's site, to drain restarts through; None when nginx is not running. An nginx an
        older swarmdeploy started reads its config from elsewhere and would never see a drained site: it is
        restarted first (its clients reconnect once)."""
        master = self.main_pid("nginx")
        if master is None:
            return None
        service = nginx_service(release, self.layout.current, self.run)
        if not started_as(master, service.argv):
            self._halt("nginx")
            self._start(service)
            report("nginx restarted: it read its configuration from where an older swarmdeploy put it")
        link = nginx_config_dir(self.run) / f"{release.model['name']}.conf"
        return NginxSite(self.layout, release, link, lambda: self._reload_nginx(release))

    def _reload_nginx(self, release: Release) -> None:
        master = self.main_pid("nginx")
        if master is None:
            raise ApplyError(f"nginx stopped during the restarts:\n{self.log_tail('nginx')}")
        before = workers(master)
        os.kill(master, signal.SIGHUP)
        confirm_reload(master, before, release.model["proxy"]["log_dir"])

    def start(self, release: Release, report=print) -> list[str]:
        """Start the release's services that are not running; returns their names."""
        self._prepare(release, report)
        started = []
        for service in self._services(release):
            if not self.running(service.name):
                self._start(service)
                report(f"started {service.name}")
                started.append(service.name)
        return started

    def restart(self, release: Release, name: str | None = None, report=print) -> None:
        """One service, stopped and started; without a name, what a deploy does: every instance one at
        a time, then nginx reloaded (Redis only started when down: restarting it drops its history)."""
        if name is None:
            self.apply(release, release, report)
            return
        service = service_named(self._services(release), name)
        self._prepare(release, report)
        if service.http_health:  # an instance: drained like a deploy's
            rolling_restart(release, self, self._nginx_site(release, report), report, [service.port])
            return
        self._halt(name)
        self._start(service)
        report(f"restarted {name}")

    def stop(self, _release: Release | None = None) -> None:
        self.stop_all()

    def stop_all(self) -> None:
        for name in ["nginx", *self.running_instances(), "redis"]:
            self._halt(name)

    def status(self, release: Release | None) -> list[dict[str, Any]]:
        """The release's services, and any other this manager still runs (an instance of an older release)."""
        wanted = [s.name for s in self._services(release)] if release else []
        others = [n for n in ["redis", "nginx", *self.running_instances()] if self.running(n)]
        rows = []
        for name in dict.fromkeys([*wanted, *others]):
            row: dict[str, Any] = {"service": name, "pid": self.main_pid(name), "supervisor": self._pid(name),
                                   "running": self.running(name)}
            if name.startswith("instance-") and release:
                row["health"] = instance_health(release.model["server"]["bind"], int(name.split("-")[1]))
            rows.append(row)
        return rows
