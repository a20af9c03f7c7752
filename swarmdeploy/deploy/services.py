"""What runs for a release: each service's command line and environment, read from the release's
own rendered files (the unit's ExecStart, the environment file), so both managers run the same."""

from __future__ import annotations

import os
import re
import shlex
import signal
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from swarmdeploy.deploy.releases import Release
from swarmdeploy.server.config import PORT_VARIABLE, parse_env_file


NGINX = "nginx"  # found on PATH, as Debian installs it


@dataclass(frozen=True)
class Service:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    stop_signal: signal.Signals = signal.SIGTERM
    port: int = 0
    host: str = "127.0.0.1"


def instance_argv(unit: str, port: int) -> list[str]:
    """The template unit's ExecStart for one instance, with %i expanded to its port as systemd does."""
    exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
    return shlex.split(exec_start.replace("%i", str(port)))


def instance_services(release: Release, current_link: Path) -> list[Service]:
    model = release.model
    name = model["name"]
    unit = (current_link / "systemd" / f"{name}@.service").read_text()
    env = parse_env_file((current_link / "systemd" / f"{name}.env").read_text())
    secrets = Path(model["server"]["secrets_file"])
    if secrets.is_file():
        env.update(parse_env_file(secrets.read_text()))
    return [
        # SIGINT: gunicorn's quick shutdown; SIGTERM would wait for every WebSocket to close.
        Service(f"instance-{port}", instance_argv(unit, port),
                {**env, PORT_VARIABLE: str(port)}, signal.SIGINT, port, model["server"]["bind"])
        for port in model["server"]["ports"]
    ]


def redis_service(release: Release, run_dir: Path) -> Service | None:
    server = release.model["server"]
    if not server["message_queue_managed"]:
        return None
    port = urlsplit(server["message_queue"]).port or 6379
    return Service("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(run_dir)], port=port)


def nginx_service(release: Release, current_link: Path, run_dir: Path) -> Service:
    """nginx with its own prefix, reading the config through `current` so a reload takes a new release."""
    prefix = run_dir / "nginx"
    model = release.model
    port = model["site"]["https_port"] if model["tls"]["enabled"] else model["site"]["http_port"]
    return Service("nginx", [NGINX, "-p", f"{prefix}/", "-c", str(current_link / "nginx" / "nginx.conf"),
                             "-e", str(prefix / "startup-error.log"), "-g", "daemon off;"],
                   stop_signal=signal.SIGQUIT, port=port, host=model["site"]["listen_address"] or "127.0.0.1")


def base_environment() -> dict[str, str]:
    """The caller's environment without SWARMDEPLOY_* settings that would override the release's."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SWARMDEPLOY_")}
