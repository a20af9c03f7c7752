"""swarmdeploy diagnose on the local demo deployed under a temporary root, with a token, a Redis password and
the TLS private key planted: the archive holds each part issue 12 lists, none of the secrets' bytes appear in
any member, and with a fault injected (the queue stopped, an instance killed) SUMMARY.txt names it."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import ssl
import subprocess
import tarfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from deploy_support import LocalDeployment, local_deployment, run
from server_stack import free_ports

from conftest import require_tool
from swarmdeploy.deploy.health import instance_health, port_open, wait_for
from swarmdeploy.deploy.process_manager import pid_alive
from swarmdeploy.diagnose.causes import CHECK_CAUSES
from swarmdeploy.diagnose.logs import log_clues
from swarmdeploy.verify.registry import CHECKS

# One deployment for the module, on one worker; the fault tests restore what they break.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("diagnose")]

# Planted secrets: distinctive, so a match can only be a leak.
TOKEN = "publish-tok3n-5e1c7a9d2f4b6081"
PASSWORD = "redis-pa55-8b3f0e6a4c2d9175"
TOKEN_VARIABLE = "SWARMBOT_PUBLISH_TOKEN"

Archive = tuple[Path, dict[str, bytes], str]  # the file, its members, what diagnose printed


@dataclass
class Stack:
    local: LocalDeployment
    redis_argv: list[str]
    redis: subprocess.Popen
    key: Path  # the self-signed certificate's private key, created by the deploy

    def ports(self) -> list[int]:
        base = self.local.data["server"]["base_port"]
        return [base + i for i in range(self.local.data["server"]["instances"])]

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(self.redis_argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop_redis(self) -> None:
        self.redis.terminate()
        self.redis.wait(timeout=30)


def queue_reachable(stack: Stack) -> set[bool]:
    return {((instance_health("127.0.0.1", port) or {}).get("queue") or {}).get("reachable") for port in stack.ports()}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The demo with publish_token_env set (its token in the secrets file) and its message queue on a Redis this
    fixture runs with a password, given in the profile's URL."""
    for tool in ("nginx", "redis-server"):
        require_tool(tool)
    local = local_deployment(tmp_path_factory.mktemp("diagnose"))
    redis_port = free_ports(1)
    local.data["server"].update(message_queue=f"redis://:{PASSWORD}@127.0.0.1:{redis_port}/0",
                                message_queue_managed=False, publish_token_env=TOKEN_VARIABLE)
    local.profile.write_text(yaml.safe_dump(local.data, sort_keys=False))
    secrets = local.root / local.data["server"]["config_dir"].lstrip("/") / f"{local.data['name']}.secrets.env"
    secrets.parent.mkdir(parents=True)
    secrets.write_text(f"{TOKEN_VARIABLE}={TOKEN}\n")
    argv = ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--requirepass", PASSWORD,
            "--save", "", "--appendonly", "no", "--dir", str(local.profile.parent)]
    key = local.root / local.data["tls"]["certificate_key"].lstrip("/")
    stack = Stack(local, argv, subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), key)
    try:
        assert wait_for(lambda: port_open("127.0.0.1", redis_port), timeout=30), "redis-server did not start"
        result = local.deploy()
        assert result.returncode == 0, result.stdout + result.stderr
        assert b"PRIVATE KEY" in key.read_bytes()
        # The token reaches an access log too: the archive's logs must not carry it.
        url = f"{local.https_url}/?token={TOKEN}"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
        try:
            urllib.request.urlopen(request, timeout=10, context=_unverified()).close()
        except OSError:
            pass  # only the log line matters
        yield stack
    finally:
        local.stop()
        stack.stop_redis()


def _unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def diagnose(stack: Stack, output: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, bytes]]:
    result = run("diagnose", str(stack.local.profile), "--root", str(stack.local.root), "-o", str(output), *args,
                 timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result, members(output)


def members(archive: Path) -> dict[str, bytes]:
    """Member name (without the archive's top folder) -> bytes, in archive order."""
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name.partition("/")[2]: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


@pytest.fixture(scope="module")
def archive(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Archive:
    """One diagnose of the healthy stack, verify run now included."""
    output = tmp_path_factory.mktemp("archive") / "report.tar.gz"
    result, files = diagnose(stack, output)
    return output, files, result.stdout


def text(files: dict[str, bytes], name: str) -> str:
    return files[name].decode()


def test_the_archive_holds_every_part_with_the_summary_first(stack: Stack, archive: Archive) -> None:
    output, files, said = archive
    assert next(iter(files)) == "SUMMARY.txt"
    assert {"versions.txt", "profile.yaml", "model.json", "environment.txt", "diff.txt", "last-verify.json",
            "verify.json", "status.json", "limits.txt", "sockets.txt", "logs/deploy.log"} <= set(files), list(files)
    summary = text(files, "SUMMARY.txt")
    assert "No problem found" in summary, summary
    assert all(name in summary for name in files if name != "SUMMARY.txt"), "the summary lists every file"
    assert "no problem found" in said and f"wrote {output}" in said
    assert output.stat().st_mode & 0o077 == 0, "logs and configs inside: readable by its owner only"

    # Every service's log, by the names the process manager gives them.
    services = [row["service"] for row in stack.local.status()["services"]]
    assert all(f"logs/{service}.log" in files for service in services if service != "nginx"), list(files)
    assert any(name.startswith("logs/") and "access" in name for name in files), list(files)
    # The recorded verify result and the one run now: every check of the registry, none failing.
    for name in ("last-verify.json", "verify.json"):
        assert re.search(r'"status": "pass"', text(files, name)), name
    assert '"status": "fail"' not in text(files, "verify.json")
    # The model resolved from the profile (instances' ports filled in), and the deployed files as rendered.
    model = json.loads(files["model.json"])["model"]
    assert model["server"]["ports"] == stack.ports()
    assert "no difference" in text(files, "diff.txt") and "changed since the deploy (sha256 against its manifest): none" \
        in text(files, "diff.txt")
    limits = text(files, "limits.txt")
    assert "net.core.somaxconn" in limits and "worker_connections 1024" in limits and "open files soft" in limits
    sockets = text(files, "sockets.txt")
    for port in [*stack.ports(), stack.local.data["site"]["https_port"]]:
        assert re.search(rf":{port}\s+pid \d+ ", sockets), (port, sockets)
        assert re.search(rf"\b{port}\s+listening", sockets), (port, sockets)


def said(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30)
    return done.stdout + done.stderr


def test_versions_are_those_of_the_tools_and_the_client_served(stack: Stack, archive: Archive) -> None:
    versions = text(archive[1], "versions.txt")
    nginx = re.search(r"nginx/(\S+)", said("nginx", "-v"))[1]
    redis = re.search(r"v=(\S+)", said("redis-server", "--version"))[1]
    openssl = said("openssl", "version").split()[1]
    served = urllib.request.urlopen(f"http://127.0.0.1:{stack.ports()[0]}/static/socket.io.min.js", timeout=10).read(512)
    client = re.search(rb"Socket\.IO v(\S+)", served)[1].decode()
    expected = [f"nginx/{nginx}", f"Redis (running, the message queue): {redis}", f"OpenSSL {openssl}",
                f"socket.io client served: {client}", "HAProxy"]
    for distribution in ("Flask-SocketIO", "python-socketio", "python-engineio", "gunicorn", "gevent", "redis"):
        expected.append(f"  {distribution} {version(distribution)}")
    assert all(line in versions for line in expected), [line for line in expected if line not in versions]
    assert "Python " in versions


def test_no_byte_of_the_planted_secrets_reaches_the_archive(stack: Stack, archive: Archive) -> None:
    output, files, _ = archive
    key_lines = [line for line in stack.key.read_text().splitlines() if line and "PRIVATE KEY" not in line]
    secrets = {"the publish token": TOKEN.encode(), "the Redis password": PASSWORD.encode(),
               **{f"key line {i}": line.encode() for i, line in enumerate(key_lines)}}
    # Planted where a careless collector would copy them: the secrets file, the instances' environment, the
    # profile's queue URL, the access log, the key file.
    assert TOKEN in stack.key.parent.parent.joinpath(f"{stack.local.data['name']}.secrets.env").read_text()
    log_dir = stack.local.root / stack.local.data["proxy"]["log_dir"].lstrip("/")
    assert TOKEN in (log_dir / "access.log").read_text() and PASSWORD in stack.local.profile.read_text()
    raw = output.read_bytes()
    blobs = {"the .tar.gz": raw, "the .tar": gzip.decompress(raw), **files,
             "member names": "\n".join(files).encode()}
    leaks = [(what, where) for what, secret in secrets.items() for where, blob in blobs.items() if secret in blob]
    assert not leaks, leaks
    assert not any(b"PRIVATE KEY" in blob for blob in blobs.values())
    # Redacted, not dropped: the places the secrets were still say what is there.
    assert TOKEN_VARIABLE in text(files, "environment.txt")
    assert ":***@127.0.0.1" in text(files, "profile.yaml")
    assert any("token=***" in text(files, name) for name in files if name.startswith("logs/")), \
        "the access log line with the token is kept, redacted"


def test_a_stopped_queue_is_named_in_the_summary(stack: Stack, tmp_path: Path) -> None:
    stack.stop_redis()
    try:
        assert wait_for(lambda: queue_reachable(stack) == {False}, timeout=60), queue_reachable(stack)
        result, files = diagnose(stack, tmp_path / "queue.tar.gz", "--no-verify")
    finally:
        stack.start_redis()
    summary = text(files, "SUMMARY.txt")
    problems = summary.partition("Likely problems, most likely first:")[2].partition("\n\n")[0]
    assert "cannot reach the message queue redis://:***@127.0.0.1" in problems, summary
    assert "Redis" in problems and "fix: start Redis" in problems, summary
    assert "likely problem 1: " in result.stdout and "message queue" in result.stdout
    assert wait_for(lambda: queue_reachable(stack) == {True}, timeout=60), "the instances resubscribe"


def test_a_killed_instance_is_named_in_the_summary(stack: Stack, tmp_path: Path) -> None:
    """The instance's supervisor is stopped (it would start a killed instance again), which stops the instance."""
    victim = f"instance-{stack.ports()[1]}"
    row = stack.local.services()[victim]
    os.kill(row["supervisor"], signal.SIGTERM)
    assert wait_for(lambda: not pid_alive(row["supervisor"]) and not pid_alive(row["pid"]), timeout=30)
    try:
        result, files = diagnose(stack, tmp_path / "killed.tar.gz")
    finally:
        restarted = run("start", stack.local.data["name"], "--root", str(stack.local.root))
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    summary = text(files, "SUMMARY.txt")
    first = summary.split("  2. ")[0]
    assert f"1. {victim} is not running" in first, summary
    assert f"swarmdeploy start {stack.local.data['name']} --root {stack.local.root}" in first, summary
    assert "likely problem 1: " + f"{victim} is not running" in result.stdout
    # verify, run now, sees the same instance down.
    assert "verify's instances check fails" in summary, summary


def test_a_log_line_that_names_a_cause_is_a_clue_with_the_field_to_change() -> None:
    warned = "2026/11/26 03:17:53 [warn] 3359#3359: 1024 worker_connections are not enough, reusing connections"
    files = {"logs/access.log": "GET / 200\n", "logs/error.log": f"# last 2 lines\n{warned}\n"}
    [clue] = log_clues(files)
    assert clue.problem == f"logs/error.log says: {warned}" and clue.evidence == "logs/error.log"
    assert clue.fix.startswith("raise proxy.worker_connections") and "(seen in logs/error.log)" in clue.fix
    # verify's own foreign-origin probe is no clue; another refused origin is.
    refused = "https://foreign-origin.invalid is not an accepted origin."
    assert log_clues({"logs/instance-1.log": refused}) == []
    [cors] = log_clues({"logs/instance-1.log": refused.replace("foreign-origin.invalid", "app.example")})
    assert "socketio.cors_allowed_origins" in cors.fix


def test_every_verify_check_has_a_cause_from_the_guide() -> None:
    assert set(CHECKS) <= set(CHECK_CAUSES), set(CHECKS) - set(CHECK_CAUSES)


def test_a_profile_not_deployed_under_the_root_is_named(tmp_path: Path) -> None:
    local = local_deployment(tmp_path)
    result = run("diagnose", str(local.profile), "--root", str(local.root), "-o", str(tmp_path / "none.tar.gz"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"likely problem 1: swarmbot-local is not deployed under {local.root}" in result.stdout
    summary = text(members(tmp_path / "none.tar.gz"), "SUMMARY.txt")
    assert f"fix: deploy it (swarmdeploy deploy PROFILE --root {local.root})" in summary, summary


def test_a_wrong_output_path_is_refused_before_any_work(tmp_path: Path) -> None:
    result = run("diagnose", "--root", str(tmp_path), "-o", str(tmp_path / "report.zip"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "name it FILE.tar.gz" in result.stderr and not (tmp_path / "report.zip").exists()
