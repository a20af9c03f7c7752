"""Deployments for the verify tests: a healthy local stack, and one real breakage per scenario.

Each stack is real: Redis, two instances started with the rendered unit's command line and
environment file, nginx with the rendered site and a certificate from a private CA. A scenario
breaks what it names after rendering (an edited site line, an environment variable, a stopped
process, a changed file), while verify keeps the profile's expectations.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from server_stack import Stack, Supervisor, free_ports, start_instances, start_nginx, start_redis

from swarmdeploy.deploy.certificates import PrivateCA
from swarmdeploy.deploy.nginx_control import workers as children
from swarmdeploy.verify.api import build_target
from swarmdeploy.verify.result import Status
from swarmdeploy.verify.target import Deployment, Target

NAME = "verifytest"


@dataclass(frozen=True)
class Scenario:
    name: str
    check: str = ""  # the check this breakage must FAIL (or `outcome`), with `fix` in its fix
    outcome: Status = Status.FAIL
    fix: str = ""
    also_fails: frozenset[str] = frozenset()  # other checks that witness the same breakage
    passes: frozenset[str] = frozenset()  # checks that must PASS; no check outside the failing ones may FAIL
    socketio: dict[str, Any] = field(default_factory=dict)  # profile settings (expected and deployed)
    proxy: dict[str, Any] = field(default_factory=dict)
    edit_site: Callable[[str], str] | None = None  # the deployed site differs from the rendered one
    env: dict[str, str] = field(default_factory=dict)  # the deployed instances' environment differs
    certificate: str = "valid"  # valid | wrong-host | expired | plain-openssl-ca (a CA without keyUsage)
    record_files: bool = True  # False: verify knows no deployed files (only live probes see the site)
    after_start: Callable[["RunningStack"], None] | None = None
    start_nginx: bool = True
    stall: bool = False  # the instances stall (SIGSTOP/SIGCONT) while verify runs
    soak: float = 0.0
    browser: bool = False


@dataclass
class RunningStack:
    stack: Stack
    supervisor: Supervisor
    nginx_prefix: Path
    target: Target
    redis: subprocess.Popen


def _profile(workdir: Path, scenario: Scenario, redis_url: str, cert: Path, key: Path) -> Path:
    base_port, http_port, https_port = free_ports(2), free_ports(1), free_ports(1)
    origin = f"https://localhost:{https_port}"
    data = {
        "name": NAME,
        "environment": "production",
        "server": {"instances": 2, "base_port": base_port, "venv": sys.prefix, "config_dir": str(workdir),
                   "message_queue": redis_url, "log_level": "warning"},
        "socketio": {"cors_allowed_origins": [origin], **scenario.socketio},
        "site": {"server_names": ["localhost"], "http_port": http_port, "https_port": https_port},
        "tls": {"profile": "intermediate", "certificate": str(cert), "certificate_key": str(key)},
        "proxy": {"pid_file": str(workdir / "nginx.pid"), "log_dir": str(workdir), "worker_processes": 1,
                  "worker_connections": 1024, "user": "root", **scenario.proxy},
        "verify": {"url": origin, "origin": origin},
    }
    path = workdir / f"{NAME}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _certificate(workdir: Path, kind: str) -> tuple[Path, Path, Path]:
    """(chain, key, CA file) for the scenario's kind of certificate."""
    if kind == "plain-openssl-ca":
        return _plain_openssl_ca(workdir / "ca")
    ca = PrivateCA(workdir / "ca" / "ca.pem", days=60)
    chain, key = ca.ca_file.with_name("fullchain.pem"), ca.ca_file.with_name("privkey.pem")
    ca.issue(chain, key, ["wrong.example.com" if kind == "wrong-host" else "localhost"], expired=kind == "expired")
    return chain, key, ca.ca_file


def _plain_openssl_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A private CA made as operators often make one, with a plain `openssl req -x509`: no keyUsage."""
    directory.mkdir(parents=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = functools.partial(subprocess.run, check=True, capture_output=True, cwd=directory, timeout=30)
    run(["openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=Ops CA"])
    run(["openssl", "req", *ec, "-keyout", "privkey.pem", "-out", "leaf.csr", "-subj", "/CN=localhost"])
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost\n")
    run(["openssl", "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "fullchain.pem", "-days", "20", "-extfile", "san.ext"])
    return directory / "fullchain.pem", directory / "privkey.pem", directory / "ca.pem"


def deploy(workdir: Path, supervisor: Supervisor, scenario: Scenario) -> RunningStack:
    cert, key, ca_file = _certificate(workdir, scenario.certificate)
    redis_url = start_redis(supervisor)
    redis = supervisor.processes[-1][0]  # the process start_redis just started
    profile = _profile(workdir, scenario, redis_url, cert, key)
    stack = start_instances(supervisor, profile, scenario.env)
    prefix = workdir / "nginx"
    if scenario.start_nginx:
        start_nginx(supervisor, prefix, stack.files, NAME, scenario.edit_site)
    else:
        prefix.mkdir()
        (prefix / "nginx.conf").write_text(stack.files["nginx/nginx.conf"])
        (prefix / f"{NAME}.conf").write_text(stack.files[f"nginx/{NAME}.conf"])
    installed = [prefix / "nginx.conf", prefix / f"{NAME}.conf"]
    deployment = Deployment(
        files={str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in installed} if scenario.record_files else {},
        nginx_command=["nginx", "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf"), "-e",
                       str(prefix / "test-error.log")],
    )
    target = build_target(profile, ca_file=ca_file, host="local://", soak=scenario.soak, browser=scenario.browser)
    running = RunningStack(stack, supervisor, prefix, dataclasses.replace(target, deployment=deployment), redis)
    if scenario.after_start:
        scenario.after_start(running)
    return running


@contextmanager
def stalled(stack: Stack, stopped: float = 0.45, running: float = 0.05) -> Iterator[None]:
    """Freeze the instances' gunicorn workers most of the time, as a server in long GC pauses."""
    # gunicorn's workers: the children of the master we started.
    workers = [w for instance in stack.instances for w in children(instance.process.pid)]
    done = threading.Event()

    def cycle() -> None:
        while not done.is_set():
            for worker in workers:
                os.kill(worker, signal.SIGSTOP)
            done.wait(stopped)
            for worker in workers:
                os.kill(worker, signal.SIGCONT)
            done.wait(running)

    thread = threading.Thread(target=cycle, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        for worker in workers:
            os.kill(worker, signal.SIGCONT)
