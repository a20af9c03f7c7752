"""The process service manager: where systemd is not PID 1 (containers, CI, laptops), run each
service under swarmdeploy's supervisor with pid files and log files in the state's run dir."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from swarmdeploy.deploy.health import instance_health, port_open, wait_for
from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.releases import Release
from swarmdeploy.deploy.services import Service, base_environment, instance_services, nginx_service, redis_service
from swarmdeploy.deploy.nginx_control import ApplyError, confirm_reload, error_log_tail, workers

STOP_TIMEOUT = 20.0


def _alive(pid: int) -> bool:
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
        return pid if _alive(pid) else None

    def running(self, name: str) -> bool:
        return self._pid(name) is not None

    def log_tail(self, name: str, lines: int = 15) -> str:
        path = self.run / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def start(self, service: Service) -> None:
        self.pids.mkdir(parents=True, exist_ok=True)
        (self.run / "nginx").mkdir(exist_ok=True)
        with (self.run / f"{service.name}.log").open("ab") as log:
            subprocess.Popen(
                [sys.executable, "-m", "swarmdeploy.deploy.supervisor", str(self.pids), service.name,
                 service.stop_signal.name, "--", *service.argv],
                env={**base_environment(), **service.env}, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, cwd=self.run, start_new_session=True)
        if not wait_for(lambda: self.running(service.name), 10):
            raise ApplyError(f"{service.name} did not start:\n{self.log_tail(service.name)}")

    def stop(self, name: str) -> None:
        pid = self._pid(name)
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        if not wait_for(lambda: not _alive(pid), STOP_TIMEOUT):
            child = self._pid(name, "child.pid")
            for stuck in filter(None, (child, pid)):
                os.kill(stuck, signal.SIGKILL)

    def running_instances(self) -> list[str]:
        return sorted(p.stem for p in self.pids.glob("instance-*.pid") if not p.stem.endswith(".child")
                      and self.running(p.stem)) if self.pids.is_dir() else []

    # -- a release ---------------------------------------------------------------------------

    def apply(self, release: Release, report=print) -> None:
        """Bring the services to this release: queue, instances one at a time, then nginx."""
        redis = redis_service(release, self.run)
        if redis and not self.running(redis.name):
            self.start(redis)
            if not wait_for(lambda: port_open("127.0.0.1", redis.port)):
                raise ApplyError(f"redis did not listen on {redis.port}:\n{self.log_tail('redis')}")
            report(f"started redis on 127.0.0.1:{redis.port}")
        wanted = instance_services(release, self.layout.current)
        for service in wanted:
            self.stop(service.name)
            self.start(service)
            if not wait_for(lambda s=service: instance_health(s.host, s.port) is not None):
                raise ApplyError(f"{service.name} did not answer /healthz:\n{self.log_tail(service.name)}")
            report(f"{service.name} healthy")
        for name in set(self.running_instances()) - {s.name for s in wanted}:
            self.stop(name)
            report(f"stopped {name} (not in this release)")
        self._nginx(release, report)

    def _nginx(self, release: Release, report) -> None:
        service = nginx_service(release, self.layout.current, self.run)
        master = self._pid("nginx", "child.pid")
        if master is None:
            self.stop("nginx")
            self.start(service)
            if not wait_for(lambda: port_open(service.host, service.port)):
                raise ApplyError(f"nginx did not listen on {service.port}:\n{self.log_tail('nginx')}"
                                 f"\n{error_log_tail(release.model['proxy']['log_dir'])}")
            report(f"nginx started on port {service.port}")
            return
        before = workers(master)
        os.kill(master, signal.SIGHUP)
        confirm_reload(master, before, release.model["proxy"]["log_dir"])
        report("nginx reloaded: every worker runs the new configuration")

    def stop_all(self) -> None:
        for name in ["nginx", *self.running_instances(), "redis"]:
            self.stop(name)

    def status(self, release: Release | None) -> list[dict[str, Any]]:
        rows = []
        names = ["redis", "nginx", *self.running_instances()]
        if release:
            names += [f"instance-{p}" for p in release.model["server"]["ports"]]
        for name in dict.fromkeys(names):
            pid = self._pid(name)
            row: dict[str, Any] = {"service": name, "pid": pid, "running": pid is not None}
            if name.startswith("instance-") and release:
                row["health"] = instance_health(release.model["server"]["bind"], int(name.split("-")[1]))
            if name == "redis" and pid is None and not (release and release.model["server"]["message_queue_managed"]):
                continue
            rows.append(row)
        return rows

