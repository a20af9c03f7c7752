"""Deploys for the deploy tests: profiles/local.yaml on free loopback ports, under a temporary root."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml
from server_stack import free_ports

from conftest import PROFILES
from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.process_manager import ProcessManager

SWARMDEPLOY = str(Path(sys.executable).parent / "swarmdeploy")


@dataclass
class LocalDeployment:
    root: Path
    profile: Path
    data: dict

    @property
    def layout(self) -> Layout:
        return Layout(self.root, self.data["name"])

    @property
    def https_url(self) -> str:
        return self.data["verify"]["url"]

    def write(self, **changes: dict) -> Path:
        """The profile with some sections changed, as a new file beside it."""
        data = {**self.data, **{k: {**self.data.get(k, {}), **v} for k, v in changes.items()}}
        path = self.profile.with_name(f"changed-{len(list(self.profile.parent.glob('changed-*')))}.yaml")
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def deploy(self, *extra: str, profile: Path | None = None, env: dict[str, str] | None = None,
               timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return run("deploy", str(profile or self.profile), "--root", str(self.root), "--service-manager", "process",
                   "--yes", *extra, env=env, timeout=timeout)

    def stop(self) -> None:
        ProcessManager(self.layout).stop_all()

    def status(self, expect: int = 0) -> dict:
        """`swarmdeploy status --json`, which must exit with `expect` (3: a service is down)."""
        result = run("status", "--root", str(self.root), "--json")
        assert result.returncode == expect, result.stdout + result.stderr
        return json.loads(result.stdout)

    def services(self) -> dict[str, dict]:
        return {row["service"]: row for row in self.status()["services"]}


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SWARMDEPLOY, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "160", **(env or {})})


def local_deployment(workdir: Path, instances_room: int = 3) -> LocalDeployment:
    """profiles/local.yaml with every port moved to a free one (room for `instances_room` instances)."""
    data = yaml.safe_load((PROFILES / "local.yaml").read_text())
    https_port, http_port, redis_port = free_ports(1), free_ports(1), free_ports(1)
    data["server"]["base_port"] = free_ports(instances_room)
    data["server"]["message_queue"] = f"redis://127.0.0.1:{redis_port}/0"
    data["site"].update(http_port=http_port, https_port=https_port)
    origin = f"https://localhost:{https_port}"
    data["socketio"]["cors_allowed_origins"] = [origin]
    data["verify"] = {"url": origin, "origin": origin}
    profile = workdir / "local.yaml"
    profile.write_text(yaml.safe_dump(data, sort_keys=False))
    return LocalDeployment(workdir / "root", profile, data)


def said(result: subprocess.CompletedProcess[str]) -> str:
    """stdout with its wrapping undone: deploy wraps its progress lines to the terminal (100 columns piped)."""
    return " ".join(result.stdout.split())


def with_default_nginx_paths(local: LocalDeployment) -> LocalDeployment:
    """The same deployment from a profile that leaves proxy.log_dir and proxy.pid_file at their defaults
    (/var/log/nginx, /run/nginx.pid), so they land under --root in directories nothing else makes."""
    data = {**local.data, "proxy": {k: v for k, v in local.data["proxy"].items() if k not in ("log_dir", "pid_file")}}
    profile = local.profile.with_name("default-paths.yaml")
    profile.write_text(yaml.safe_dump(data, sort_keys=False))
    return LocalDeployment(local.root, profile, data)


def ping_interval(port: int) -> int:
    """pingInterval (ms) of the Engine.IO open packet the instance answers a polling handshake with."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", timeout=5) as answer:
        return json.loads(answer.read().decode()[1:])["pingInterval"]


def interval_or_none(port: int) -> int | None:
    """None while the instance is starting again."""
    try:
        return ping_interval(port)
    except OSError:
        return None


def set_ping_interval(env_file: Path, seconds: int) -> None:
    text = env_file.read_text()
    env_file.write_text(re.sub(r"^SWARMDEPLOY_PING_INTERVAL=.*$", f"SWARMDEPLOY_PING_INTERVAL={seconds}", text,
                               flags=re.M))


def tree_hash(directory: Path, skip: Path | None = None) -> str:
    """Paths, link targets and contents of everything under directory (but skip: running
    services' logs and pid files change on their own)."""
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")) if directory.exists() else []:
        if skip and path.is_relative_to(skip):
            continue
        digest.update(str(path.relative_to(directory)).encode())
        if path.is_symlink():
            digest.update(b"->" + os.readlink(path).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()

