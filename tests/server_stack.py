"""Real processes for the server tests: profiles, ports, gunicorn instances, Redis, nginx.

Instances start with the command line and environment the rendered systemd unit gives them
(ExecStart with %i replaced, the rendered EnvironmentFile, SWARMDEPLOY_PORT), so what passes
here is what a host runs. Everything binds 127.0.0.1 on ports picked at run time, and every
process is stopped by its PID (Supervisor.stop_all in a fixture finalizer).
"""

from __future__ import annotations

import json
import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from swarmdeploy.deploy.services import instance_argv
from swarmdeploy.profile import load_profile
from swarmdeploy.render import render_files
from swarmdeploy.server.config import PORT_VARIABLE, parse_env_file

START_TIMEOUT = 20.0  # seconds for any process to become ready
STOP_TIMEOUT = 10.0


# ---------------------------------------------------------------- ports


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ephemeral_range() -> tuple[int, int]:
    low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    return int(low), int(high)


def free_ports(count: int) -> int:
    """The first of `count` consecutive free loopback ports (instances use base_port + i).

    Picked below the kernel's ephemeral range: there, any outgoing connection (a load client,
    another test) may take the port between this check and the server's bind.
    """
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    ephemeral_low, _ = _ephemeral_range()
    for _ in range(200):
        base = rng.randrange(10000, ephemeral_low - count)
        if all(_port_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no run of free loopback ports found")


# ---------------------------------------------------------------- profiles


def write_profile(directory: Path, *, instances: int = 1, message_queue: str | None = None,
                  server: dict[str, Any] | None = None, socketio: dict[str, Any] | None = None,
                  tls: dict[str, Any] | None = None, site: dict[str, Any] | None = None,
                  proxy: dict[str, Any] | None = None, name: str = "swarmtest") -> Path:
    """A development profile for this host: venv = this Python's, paths under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    base_port, http_port = free_ports(instances), free_ports(1)
    # Clients in these tests talk to instances directly; websocket-client sends Origin: http://host:port.
    origins = [f"http://localhost:{http_port}", *(f"http://127.0.0.1:{base_port + i}" for i in range(instances))]
    data: dict[str, Any] = {
        "name": name,
        "environment": "development",
        "server": {"instances": instances, "base_port": base_port, "bind": "127.0.0.1",
                   "async_mode": "gevent", "venv": sys.prefix, "config_dir": str(directory),
                   "message_queue": message_queue, "log_level": "warning", **(server or {})},
        "socketio": {"cors_allowed_origins": origins, **(socketio or {})},
        "site": {"server_names": ["localhost"], "http_port": http_port, **(site or {})},
        "tls": tls or {"profile": "off"},
        "proxy": {"pid_file": str(directory / "nginx.pid"), "log_dir": str(directory), "worker_processes": 1,
                  "worker_connections": 1024, "user": "root", **(proxy or {})},
    }
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def unit_command(files: dict[str, str], name: str, port: int) -> list[str]:
    """ExecStart of the rendered unit for instance `port`, as the process manager runs it."""
    return instance_argv(files[f"systemd/{name}@.service"], port)


def unit_environment(files: dict[str, str], name: str, port: int) -> dict[str, str]:
    """The rendered EnvironmentFile plus the unit's Environment=SWARMDEPLOY_PORT=%i."""
    return {**parse_env_file(files[f"systemd/{name}.env"]), PORT_VARIABLE: str(port)}


# ---------------------------------------------------------------- processes


@dataclass
class Supervisor:
    """Starts processes and stops each by its PID; logs go to files in `directory`."""

    directory: Path
    processes: list[tuple[subprocess.Popen, int]] = field(default_factory=list)

    def start(self, argv: list[str], env: dict[str, str] | None = None, *, label: str,
              stop_signal: int = signal.SIGTERM) -> subprocess.Popen:
        log = (self.directory / f"{label}.log").open("ab")
        base = {k: v for k, v in os.environ.items() if not k.startswith("SWARMDEPLOY_")}
        process = subprocess.Popen(argv, env={**base, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=self.directory)
        log.close()
        self.processes.append((process, stop_signal))
        return process

    def log(self, label: str) -> str:
        path = self.directory / f"{label}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self, process: subprocess.Popen) -> None:
        for entry in [e for e in self.processes if e[0] is process]:
            self._stop(*entry)
            self.processes.remove(entry)

    @staticmethod
    def _stop(process: subprocess.Popen, stop_signal: int) -> None:
        if process.poll() is not None:
            return
        process.send_signal(stop_signal)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)

    def stop_all(self) -> None:
        while self.processes:
            self._stop(*self.processes.pop())


def wait_until(check: Callable[[], Any], timeout: float, what: str, process: subprocess.Popen | None = None,
               log: Callable[[], str] | None = None) -> Any:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what}: process exited with {process.returncode}\n{log() if log else ''}")
        try:
            result = check()
            if result:
                return result
        except Exception as error:  # noqa: BLE001 - not ready yet
            last_error = error
        time.sleep(0.1)
    raise AssertionError(f"{what}: not ready after {timeout} s ({last_error})\n{log() if log else ''}")


def http_json(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None,
              data: dict[str, Any] | None = None, context: Any = None) -> Any:
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        return json.loads(response.read())


def http_text(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> str:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as response:
        return response.read().decode()


@dataclass
class Instance:
    port: int
    process: subprocess.Popen
    label: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> dict[str, Any]:
        return http_json(f"{self.url}/healthz")


@dataclass
class Stack:
    profile: Path
    model: dict[str, Any]
    files: dict[str, str]
    instances: list[Instance]


def start_instances(supervisor: Supervisor, profile: Path, extra_env: dict[str, str] | None = None) -> Stack:
    """Every instance of the profile, as its systemd unit runs it; returns when all are healthy."""
    model = load_profile(profile).model
    files = render_files(model)
    name = model["name"]
    instances = []
    for port in model["server"]["ports"]:
        label = f"{name}-{port}"
        env = {**unit_environment(files, name, port), **(extra_env or {})}
        process = supervisor.start(unit_command(files, name, port), env, label=label, stop_signal=signal.SIGINT)
        instances.append(Instance(port, process, label))
    for instance in instances:
        wait_until(instance.health, START_TIMEOUT, f"instance on port {instance.port}", instance.process,
                   lambda instance=instance: supervisor.log(instance.label))
    return Stack(profile, model, files, instances)


def start_redis(supervisor: Supervisor) -> str:
    """A throw-away Redis on a loopback port; returns its URL."""
    import redis

    port = free_ports(1)
    process = supervisor.start(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(supervisor.directory)], label=f"redis-{port}")
    url = f"redis://127.0.0.1:{port}/0"
    wait_until(lambda: redis.Redis.from_url(url, socket_timeout=1).ping(), START_TIMEOUT, "redis", process,
               lambda: supervisor.log(f"redis-{port}"))
    return url


def start_nginx(supervisor: Supervisor, prefix: Path, files: dict[str, str], name: str,
                edit_site: Callable[[str], str] | None = None) -> subprocess.Popen:
    """nginx with the rendered nginx.conf and site, listening on loopback only."""
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "nginx.conf").write_text(files["nginx/nginx.conf"])
    site = files[f"nginx/{name}.conf"]
    # The rendered site listens on every interface; tests stay on loopback.
    site = "\n".join(
        line.replace("listen ", "listen 127.0.0.1:", 1) if line.strip().startswith("listen ") else line
        for line in site.splitlines()
    ) + "\n"
    (prefix / f"{name}.conf").write_text(edit_site(site) if edit_site else site)
    nginx = "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "nginx"
    argv = [nginx, "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "startup-error.log"),
            "-g", "daemon off;"]
    check = subprocess.run([*argv[:-2], "-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    process = supervisor.start(argv, label=f"nginx-{prefix.name}")
    for port in re.findall(r"listen 127\.0\.0\.1:(\d+)", site):
        wait_until(lambda port=port: socket.create_connection(("127.0.0.1", int(port)), timeout=1).close() or True,
                   START_TIMEOUT, f"nginx on port {port}", process, lambda: supervisor.log(f"nginx-{prefix.name}"))
    return process


# ---------------------------------------------------------------- clients


class Client:
    """A python-socketio client that records pong and batch events in queues."""

    def __init__(self, url: str, transports: list[str], path: str = "/socket.io", auth: dict[str, Any] | None = None):
        import socketio

        self.sio = socketio.Client(reconnection=False)
        self.pongs: queue.Queue = queue.Queue()
        self.batches: queue.Queue = queue.Queue()
        self.sio.on("pong", self.pongs.put)
        self.sio.on("batch", self.batches.put)
        self.connect_errors: list[Any] = []
        self.sio.on("connect_error", self.connect_errors.append)
        try:
            self.sio.connect(url, transports=transports, socketio_path=path.strip("/"), auth=auth, wait_timeout=10)
        except socketio.exceptions.ConnectionError as error:
            # python-socketio's message is generic; the server's reason arrives in connect_error.
            raise socketio.exceptions.ConnectionError(f"{error}: {self.connect_errors}") from error

    def ping(self, payload: Any, timeout: float = 5.0) -> dict[str, Any]:
        self.sio.emit("ping", payload)
        return self.pongs.get(timeout=timeout)

    def call(self, event: str, data: Any, timeout: float = 10.0) -> Any:
        return self.sio.call(event, data, timeout=timeout)

    def batch_events(self, count: int, timeout: float) -> list[dict[str, Any]]:
        """Batches until `count` events arrived (or the time is up); returns the batches."""
        deadline, batches, seen = time.monotonic() + timeout, [], 0
        while seen < count and time.monotonic() < deadline:
            try:
                batch = self.batches.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            batches.append(batch)
            seen += len(batch["events"])
        return batches

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()
