"""What runs for a release: each service's command line and environment, read from the release's
own rendered files (the unit's ExecStart, Environment= and EnvironmentFile= lines), so both managers
run the same."""

from __future__ import annotations

import os
import re
import shlex
import signal
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from swarmdeploy.deploy.releases import Release
from swarmdeploy.errors import SwarmdeployError
from swarmdeploy.validators.nginx import nginx_argv

NGINX = "nginx"  # found on PATH, as Debian installs it


class UnknownService(SwarmdeployError):
    exit_code = 2


@dataclass(frozen=True)
class Service:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # the unit's Environment=
    # The unit's EnvironmentFile= ("-" first: optional), read again at every start, as systemd does.
    env_files: tuple[str, ...] = ()
    stop_signal: signal.Signals = signal.SIGTERM
    port: int = 0
    host: str = "127.0.0.1"
    http_health: bool = False  # ready when /healthz answers, not only when the port accepts
    error_log_dir: str = ""  # nginx's proxy.log_dir: its error.log says why it did not start


def _settings(unit: str, key: str, port: int) -> list[str]:
    """The values of a unit's `key=` lines, with %i expanded to the instance's port as systemd does."""
    return [value.replace("%i", str(port)) for value in re.findall(rf"^{key}=(.*)$", unit, re.MULTILINE)]


def instance_argv(unit: str, port: int) -> list[str]:
    """The template unit's ExecStart for one instance."""
    return shlex.split(_settings(unit, "ExecStart", port)[0])


def instance_services(release: Release, current_link: Path) -> list[Service]:
    model = release.model
    unit = (current_link / "systemd" / f"{model['name']}@.service").read_text()
    services = []
    for port in model["server"]["ports"]:
        env = dict(setting.partition("=")[::2] for setting in _settings(unit, "Environment", port))
        # SIGTERM, as systemd stops it: gunicorn's graceful stop, during which the server closes its clients'
        # transports so they reconnect at once (swarmdeploy.server.runtime); SIGINT would cut them.
        services.append(Service(f"instance-{port}", instance_argv(unit, port), env,
                                tuple(_settings(unit, "EnvironmentFile", port)), signal.SIGTERM, port,
                                model["server"]["bind"], http_health=True))
    return services


def redis_service(release: Release, run_dir: Path) -> Service | None:
    server = release.model["server"]
    if not server["message_queue_managed"]:
        return None
    port = urlsplit(server["message_queue"]).port or 6379
    return Service("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(run_dir)], port=port)


def nginx_config_links(release: Release, current_link: Path, run_dir: Path) -> dict[Path, Path]:
    """The files the process manager's nginx reads -> the release's, through `current` so a reload takes a new
    release. nginx.conf includes the site by a relative name, so both sit in one directory of links; a drained
    restart points the site's link at a copy with an instance marked down (deploy/drain.py)."""
    site = f"{release.model['name']}.conf"
    return {nginx_config_dir(run_dir) / name: current_link / "nginx" / name for name in ("nginx.conf", site)}


def nginx_config_dir(run_dir: Path) -> Path:
    return run_dir / "nginx-conf"


def nginx_service(release: Release, current_link: Path, run_dir: Path) -> Service:
    """nginx with its own prefix, reading its config through the links of `nginx_config_links`."""
    prefix = run_dir / "nginx"
    model = release.model
    port = model["site"]["https_port"] if model["tls"]["enabled"] else model["site"]["http_port"]
    argv = nginx_argv(NGINX, prefix, nginx_config_dir(run_dir) / "nginx.conf", prefix / "startup-error.log")
    return Service("nginx", [*argv, "-g", "daemon off;"], stop_signal=signal.SIGQUIT, port=port,
                   host=model["site"]["listen_address"] or "127.0.0.1", error_log_dir=model["proxy"]["log_dir"])


def release_services(release: Release, current_link: Path, run_dir: Path) -> list[Service]:
    """Every service of a release, in the order they start: the queue, the instances, nginx."""
    redis = redis_service(release, run_dir)
    return [*([redis] if redis else []), *instance_services(release, current_link),
            nginx_service(release, current_link, run_dir)]


def service_named(services: list[Service], name: str) -> Service:
    found = next((s for s in services if s.name == name), None)
    if found is None:
        raise UnknownService(f"no service {name} in this release: choose from {', '.join(s.name for s in services)}")
    return found


def base_environment() -> dict[str, str]:
    """The caller's environment without SWARMDEPLOY_* settings that would override the release's."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SWARMDEPLOY_")}
