"""Everything a deploy checks before it changes anything: the programs it will run (each missing one named
with its Debian package), configs as they will run (nginx -t with the command line apply starts nginx with,
and the directories its config writes to), TLS files, ports, the message queue, the app factory."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from swarmdeploy.deploy.certificates import certificate_problems
from swarmdeploy.deploy.directories import directory_problems
from swarmdeploy.deploy.managers import programs_needed
from swarmdeploy.deploy.releases import Release
from swarmdeploy.validators.nginx import NGINX_TEST
from swarmdeploy.validators.runner import check_files
from swarmdeploy.validators.systemd import UNITS_VERIFY
from swarmdeploy.verify.result import Status

Model = dict[str, Any]
IMPORT_TIMEOUT = 120


def _configs(model: Model, files: dict[str, str]) -> list[str]:
    """nginx -t and systemd-analyze verify on a scratch copy of the staged files. Only a self-signed
    certificate that deploy has not created yet is stood in for: any other missing file is a problem.
    The paths nginx writes (logs, pid file) point into the scratch dir, so nothing here changes: that
    apply can make or write their directories is `directory_problems`'s to say."""
    self_signed = ("tls.certificate", "tls.certificate_key") if model["tls"]["self_signed"] else ()
    report = check_files(model, files, only=(NGINX_TEST, UNITS_VERIFY), stand_in=self_signed)
    return [f"{r.validator}: {r.detail}" for r in report.results if r.status is Status.FAIL]


def _tls(model: Model) -> list[str]:
    tls = model["tls"]
    if not tls["enabled"] or (tls["self_signed"] and not Path(tls["certificate"]).exists()):
        return []
    return certificate_problems(Path(tls["certificate"]), Path(tls["certificate_key"]), model["site"]["server_names"])


def _starts_queue(model: Model, manager: str) -> bool:
    """Only the process manager starts a managed queue: a systemd host runs its own Redis."""
    return model["server"]["message_queue_managed"] and manager == "process"


def ports_of(model: Model, manager: str) -> dict[int, str]:
    """Every port the deployment listens on -> the address it binds."""
    listen = (model["site"]["listen_address"] or "0.0.0.0").strip("[]")
    ports = {port: model["server"]["bind"] for port in model["server"]["ports"]}
    ports[model["site"]["http_port"]] = listen
    if model["tls"]["enabled"]:
        ports[model["site"]["https_port"]] = listen
    if _starts_queue(model, manager):
        ports[urlsplit(model["server"]["message_queue"]).port or 6379] = "127.0.0.1"
    return ports


def _port_free(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def _ports(model: Model, previous: Release | None, manager: str) -> list[str]:
    ours = set(ports_of(previous.model, previous.info.get("service_manager", manager))) if previous else set()
    return [f"port {port} on {address} is in use by another program: stop it or change the profile's port"
            for port, address in ports_of(model, manager).items()
            if port not in ours and not _port_free(address, port)]


def _queue(model: Model, manager: str) -> list[str]:
    url = model["server"]["message_queue"]
    if not url or _starts_queue(model, manager):
        return []  # apply starts it; the port check covers a stranger on its port
    import redis  # the server extra; only profiles with a queue need it here

    try:
        redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return [f"the message queue {url} does not answer: {error}"]
    return []


def _app_importable(model: Model) -> list[str]:
    module, _, factory = model["server"]["app"].partition(":")
    python = Path(model["server"]["venv"]) / "bin" / "python"
    if not python.exists():
        return [f"{python} does not exist: create the virtualenv server.venv and install the app there"]
    probe = "import importlib, sys; getattr(importlib.import_module(sys.argv[1]), sys.argv[2])"
    try:
        result = subprocess.run([str(python), "-c", probe, module, factory], check=False, capture_output=True,
                                text=True, errors="replace", timeout=IMPORT_TIMEOUT)
    except subprocess.TimeoutExpired:
        return [(f"importing {model['server']['app']} with {python} took over {IMPORT_TIMEOUT} s: check what "
                 "the module does at import (server.app)")]
    why = "".join(result.stderr.strip().splitlines()[-1:])  # the exception's own line
    return [] if result.returncode == 0 else [f"cannot import {model['server']['app']} with {python}: {why}"]


def missing_programs(model: Model, manager: str, verify: bool = True) -> list[str]:
    """The Debian packages to install first, named in the problem."""
    return [f"{program} is not installed: apt-get install {package}"
            for program, package in programs_needed(manager, model, verify).items() if not shutil.which(program)]


def preflight(model: Model, files: dict[str, str], previous: Release | None, manager: str,
              verify: bool = True) -> list[str]:
    """Problems that stop the deploy before anything changes; empty when it may proceed. manager: the service
    manager apply will use; verify: whether the deploy verifies afterwards (it needs a program more)."""
    missing = missing_programs(model, manager, verify)
    if missing:
        return missing
    return (_configs(model, files) + directory_problems(model) + _tls(model) + _ports(model, previous, manager)
            + _queue(model, manager) + _app_importable(model))
