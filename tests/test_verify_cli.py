"""`swarmdeploy verify` as users and CI systems run it: table, --json, --junit-xml, exit codes, and
a bare `verify` that checks the last deployment recorded on the host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from server_stack import Supervisor
from verify_stack import RunningStack, Scenario, deploy

from conftest import require_tool
from swarmdeploy.deploy.layout import Layout
from swarmdeploy.verify.record import write_record
from swarmdeploy.verify.registry import CHECKS

pytestmark = pytest.mark.integration

SWARMDEPLOY = str(Path(sys.executable).parent / "swarmdeploy")


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    for tool in ("nginx", "redis-server"):
        require_tool(tool)
    workdir = tmp_path_factory.mktemp("verify-cli")
    supervisor = Supervisor(workdir)
    try:
        yield deploy(workdir, supervisor, Scenario("healthy"))
    finally:
        supervisor.stop_all()


@pytest.fixture(scope="module")
def any_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A server that accepts every origin (SWARMDEPLOY_CORS_ALLOWED_ORIGINS=*)."""
    workdir = tmp_path_factory.mktemp("verify-cli-any-origin")
    supervisor = Supervisor(workdir)
    try:
        yield deploy(workdir, supervisor, Scenario("any-origin", env={"SWARMDEPLOY_CORS_ALLOWED_ORIGINS": "*"}))
    finally:
        supervisor.stop_all()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([SWARMDEPLOY, "verify", *args], capture_output=True, text=True, env=env, timeout=120)


def test_bare_verify_checks_the_recorded_deployment(healthy: RunningStack, tmp_path: Path) -> None:
    target = healthy.target
    write_record(Layout(tmp_path, target.model["name"]).state_root, target)
    junit = tmp_path / "verify.xml"
    result = run("--json", "--junit-xml", str(junit), "--root", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "pass" and report["url"] == target.url
    statuses = {c["check"]: c["status"] for c in report["checks"]}
    assert list(statuses) == list(CHECKS)
    assert statuses["host"] == "pass"  # the record's file hashes and nginx command were used
    cases = ElementTree.parse(junit).getroot().findall("testcase")
    assert [c.get("name") for c in cases] == list(CHECKS)
    assert all(c.find("failure") is None for c in cases)


def test_table_names_the_fix_and_exit_code_is_1_on_failure(healthy: RunningStack, tmp_path: Path) -> None:
    profile = tmp_path / "expects-other-pings.yaml"
    profile.write_text(healthy.stack.profile.read_text().replace("socketio:\n", "socketio:\n  ping_interval: 7\n", 1))
    result = run(str(profile), "--ca-file", str(healthy.target.ca_file), "--only", "handshake")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL" in result.stdout and "fix:" in result.stdout and "SWARMDEPLOY_PING_INTERVAL" in result.stdout
    assert "reachability" not in result.stdout  # --only ran one check


def test_url_without_profile_runs_the_checks_that_need_none(healthy: RunningStack) -> None:
    result = run("--url", healthy.target.url, "--ca-file", str(healthy.target.ca_file), "--json")
    statuses = {c["check"]: c["status"] for c in json.loads(result.stdout)["checks"]}
    assert result.returncode == 0, result.stdout
    assert statuses["handshake"] == statuses["websocket"] == statuses["latency"] == "pass"
    assert statuses["broadcast"] == "skip"  # needs the profile to find the instances


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    assert run("--url", "https://localhost:1", "--only", "nonsense").returncode == 2
    missing = run("--root", str(tmp_path))
    assert missing.returncode == 2 and "no deployment recorded" in missing.stderr and "--root" in missing.stderr


def test_a_warning_fails_only_with_strict(any_origin: RunningStack) -> None:
    args = ["--url", any_origin.target.url, "--ca-file", str(any_origin.target.ca_file), "--only", "reachability",
            "--only", "cors", "--json"]
    relaxed = run(*args)
    cors = next(c for c in json.loads(relaxed.stdout)["checks"] if c["check"] == "cors")
    assert relaxed.returncode == 0 and cors["status"] == "warn", relaxed.stdout
    assert run(*args, "--strict").returncode == 1
