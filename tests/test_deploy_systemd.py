"""The systemd service manager, as far as a machine without systemd as PID 1 allows: the files it
links into place, the commands it runs (recorded), units that systemd-analyze verifies, the programs
preflight asks for, and a deploy whose apply raises a bug's exception. tests/test_systemd_container.py
runs the same manager under a real systemd."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import PROFILES, require_tool

from swarmdeploy.bundle import manifest
from swarmdeploy.deploy import systemd_manager, transaction
from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.managers import MANAGERS, programs_needed
from swarmdeploy.deploy.preflight import missing_programs, ports_of
from swarmdeploy.deploy.releases import Release, current_release, store_release, switch_current
from swarmdeploy.deploy.rooted import deploy_profile
from swarmdeploy.deploy.services import UnknownService
from swarmdeploy.deploy.systemd_manager import SystemdManager, run_command
from swarmdeploy.profile import load_profile
from swarmdeploy.render import render_files

JOURNAL = "2026-11-25T10:00:00+0000 host systemd[1]: Started swarmbot@8050.service.\n" \
          "2026-11-25T10:00:01+0000 host gunicorn[42]: Listening at: http://127.0.0.1:8050\n"


class Host:
    """systemctl and journalctl on a host: `show` answers for each unit (active, pid 4242, unless listed
    inactive), journalctl with two lines; every command is recorded."""

    def __init__(self, inactive: frozenset[str] = frozenset()) -> None:
        self.inactive = inactive
        self.commands: list[list[str]] = []

    def __call__(self, argv: list[str]) -> subprocess.CompletedProcess:
        self.commands.append(argv)
        if argv[:2] == ["systemctl", "show"]:
            down = argv[-1] in self.inactive
            return subprocess.CompletedProcess(argv, 0, f"ActiveState={'inactive' if down else 'active'}\n"
                                                        f"SubState={'dead' if down else 'running'}\n"
                                                        f"MainPID={0 if down else 4242}\nNRestarts=3\n", "")
        if argv[0] == "journalctl":
            return subprocess.CompletedProcess(argv, 0, JOURNAL, "")
        return subprocess.CompletedProcess(argv, 0, "", "")

    def changes(self) -> list[list[str]]:
        """The commands that change something: not `systemctl show`, not journalctl."""
        return [c for c in self.commands if c[:2] != ["systemctl", "show"] and c[0] != "journalctl"]


def release_for(root: Path, tmp_path: Path, instances: int, release_id: str) -> tuple[Layout, Release]:
    data = yaml.safe_load((PROFILES / "prod.yaml").read_text())
    data["server"].update(instances=instances, venv=sys.prefix)  # ExecStart's binary must exist for verify
    profile = tmp_path / f"prod-{instances}.yaml"
    profile.write_text(yaml.safe_dump(data))
    model = deploy_profile(profile, root, "systemd").model
    layout = Layout(root, model["name"])
    files = render_files(model)
    release = store_release(layout, release_id, files, manifest(files, model, profile.name),
                            {"id": release_id, "model": model, "service_manager": "systemd"})
    switch_current(layout, release)
    return layout, release


def test_systemd_apply_links_files_and_runs_the_right_commands(tmp_path: Path) -> None:
    root = tmp_path / "root"
    layout, first = release_for(root, tmp_path, 2, "20260101T000000-aaaaaa")
    host = Host()
    SystemdManager(layout, host, wait_healthy=False).apply(first, None, report=lambda _m: None)
    reload = [["nginx", "-t"], ["systemctl", "reload", "nginx.service"]]
    # Each instance restarts drained: nginx reloaded before it and after it (tests/test_drain.py checks what it ran).
    assert host.changes() == [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "swarmbot.target", "nginx.service", "swarmbot@8050.service", "swarmbot@8051.service"],
        *reload, ["systemctl", "restart", "swarmbot@8050.service"], *reload,
        *reload, ["systemctl", "restart", "swarmbot@8051.service"], *reload,
        ["systemctl", "start", "swarmbot.target"],
    ]
    unit = root / "etc/systemd/system/swarmbot@.service"
    assert unit.is_symlink() and unit.resolve() == (first.path / "systemd/swarmbot@.service").resolve()
    env_file = Path(first.model["server"]["env_file"])
    assert env_file.is_relative_to(root) and env_file.resolve().read_text().startswith("# Rendered by swarmdeploy")
    assert (root / "etc/nginx/conf.d/swarmbot.conf").resolve().is_file()

    _, second = release_for(root, tmp_path, 1, "20260101T000001-bbbbbb")
    host.commands.clear()
    SystemdManager(layout, host, wait_healthy=False).apply(second, first, report=lambda _m: None)
    assert ["systemctl", "disable", "--now", "swarmbot@8051.service"] in host.commands
    assert ["systemctl", "restart", "swarmbot@8051.service"] not in host.commands
    assert unit.resolve() == (second.path / "systemd/swarmbot@.service").resolve()


def test_apply_starts_nginx_when_systemd_says_it_is_not_running(tmp_path: Path) -> None:
    """A reload of an inactive unit fails: a stopped nginx is started instead."""
    layout, release = release_for(tmp_path / "root", tmp_path, 1, "20260101T000000-aaaaaa")
    host = Host(inactive=frozenset({"nginx.service"}))
    SystemdManager(layout, host, wait_healthy=False).apply(release, None, report=lambda _m: None)
    assert host.changes()[-2:] == [["nginx", "-t"], ["systemctl", "start", "nginx.service"]]


def test_systemd_status_start_and_restart_are_their_systemctl_equivalents(tmp_path: Path) -> None:
    layout, release = release_for(tmp_path / "root", tmp_path, 2, "20260101T000000-aaaaaa")
    host = Host(inactive=frozenset({"swarmbot@8051.service"}))
    manager = SystemdManager(layout, host, wait_healthy=False)
    rows = {row["service"]: row for row in manager.status(release)}
    assert set(rows) == {"instance-8050", "instance-8051", "nginx"}
    assert rows["instance-8050"]["running"] and rows["instance-8050"]["pid"] == 4242
    assert not rows["instance-8051"]["running"] and rows["instance-8051"]["pid"] is None
    # What systemd says of each unit: its states, its restarts, its journal's last lines.
    assert (rows["instance-8051"]["active_state"], rows["instance-8051"]["sub_state"]) == ("inactive", "dead")
    assert rows["instance-8050"]["restarts"] == 3
    assert rows["nginx"]["journal"] == JOURNAL.splitlines()
    assert ["journalctl", "--unit", "swarmbot@8050.service", "--lines", "10", "--no-pager", "--output",
            "short-iso"] in host.commands
    host.commands.clear()
    assert manager.start(release, report=lambda _m: None) == ["instance-8051"]
    assert host.changes() == [["systemctl", "start", "swarmbot@8051.service"]]
    host.commands.clear()
    manager.restart(release, "instance-8050", report=lambda _m: None)
    assert host.changes() == [["nginx", "-t"], ["systemctl", "reload", "nginx.service"],  # drained first
                              ["systemctl", "restart", "swarmbot@8050.service"],
                              ["nginx", "-t"], ["systemctl", "reload", "nginx.service"]]
    with pytest.raises(UnknownService, match="choose from instance-8050, instance-8051, nginx"):
        manager.restart(release, "redis", report=lambda _m: None)


def test_stop_waits_for_every_instance_not_only_the_target(tmp_path: Path) -> None:
    layout, release = release_for(tmp_path / "root", tmp_path, 2, "20260101T000000-aaaaaa")
    host = Host()
    SystemdManager(layout, host, wait_healthy=False).stop(release)
    assert host.commands == [["systemctl", "stop", "swarmbot.target", "swarmbot@8050.service",
                              "swarmbot@8051.service"]]


def test_a_missing_or_hanging_program_is_a_failed_result_not_an_exception(tmp_path: Path, monkeypatch) -> None:
    assert run_command([str(tmp_path / "systemctl"), "daemon-reload"]).returncode == 127
    monkeypatch.setattr(systemd_manager, "COMMAND_TIMEOUT", 0.2)
    hung = run_command([require_tool("sleep"), "5"])
    assert hung.returncode == 124 and "did not finish" in hung.stderr


@pytest.mark.integration
def test_linked_units_verify_cleanly(tmp_path: Path) -> None:
    analyze = require_tool("systemd-analyze")
    root = tmp_path / "root"
    layout, release = release_for(root, tmp_path, 2, "20260101T000000-aaaaaa")
    SystemdManager(layout, Host(), wait_healthy=False).apply(release, None, report=lambda _m: None)
    unit_dir = root / "etc/systemd/system"
    result = subprocess.run([analyze, "verify", "swarmbot@8050.service", "swarmbot@8051.service", "swarmbot.target"],
                            check=False, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "SYSTEMD_UNIT_PATH": f"{unit_dir}:"})
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_preflight_names_the_package_of_each_program_the_manager_runs(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine with none of them
    model = load_profile(PROFILES / "local.yaml").model
    assert missing_programs(model, "process") == ["nginx is not installed: apt-get install nginx",
                                                  "redis-server is not installed: apt-get install redis-server",
                                                  "ss is not installed: apt-get install iproute2"]
    assert missing_programs(model, "systemd", verify=False) == [
        "nginx is not installed: apt-get install nginx", "systemctl is not installed: apt-get install systemd",
        "journalctl is not installed: apt-get install systemd",
        "systemd-analyze is not installed: apt-get install systemd"]
    for program in ("nginx", "systemctl", "journalctl", "ss"):
        (tmp_path / program).write_text("#!/bin/sh\n")
        (tmp_path / program).chmod(0o755)
    assert missing_programs(model, "systemd") == ["systemd-analyze is not installed: apt-get install systemd"]


def test_every_program_the_systemd_manager_runs_is_one_preflight_checks(tmp_path: Path) -> None:
    """A program added to the manager without its package in managers.programs_needed would fail mid-apply on a
    host without it (as pgrep once did): each command of apply, start, restart, stop and status is listed."""
    layout, release = release_for(tmp_path / "root", tmp_path, 2, "20260101T000000-aaaaaa")
    for host in (Host(), Host(inactive=frozenset({"nginx.service", "swarmbot@8051.service"}))):
        manager = SystemdManager(layout, host, wait_healthy=False)
        manager.apply(release, release, report=lambda _m: None)
        manager.start(release, report=lambda _m: None)
        for service in (None, "instance-8050", "nginx"):
            manager.restart(release, service, report=lambda _m: None)
        manager.status(release)
        manager.stop(release)
        ran = {argv[0] for argv in host.commands}
        assert ran and ran <= set(programs_needed("systemd", release.model, verify=True)), ran


def test_a_managed_queue_is_the_process_managers_only() -> None:
    """Under systemd the host runs its own Redis: its port is not the deployment's, and preflight asks it."""
    model = load_profile(PROFILES / "local.yaml").model
    assert 16379 in ports_of(model, "process")
    assert 16379 not in ports_of(model, "systemd")


def test_an_unexpected_exception_during_apply_rolls_back_and_logs_its_traceback(tmp_path: Path,
                                                                                 monkeypatch) -> None:
    """A bug's exception (not a SwarmdeployError) in the middle of apply: the previous release is restored
    and restarted, the user sees a message, and the deploy log keeps the traceback."""
    host = Host()
    armed = []

    def runner(argv: list[str]) -> subprocess.CompletedProcess:
        if armed and argv == ["systemctl", "restart", "swarmbot@8051.service"]:
            armed.clear()  # only the new release's apply meets the bug: the rollback's apply runs through
            raise RuntimeError("a bug half-way through apply")
        return host(argv)

    monkeypatch.setitem(MANAGERS, "systemd", lambda layout: SystemdManager(layout, runner, wait_healthy=False))
    monkeypatch.setattr(transaction, "preflight", lambda *_args: [])  # this machine is no systemd host
    monkeypatch.setattr(transaction, "verify_release", lambda *_args: [])
    data = yaml.safe_load((PROFILES / "prod.yaml").read_text())
    data["server"]["venv"] = sys.prefix
    first_profile, second_profile = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first_profile.write_text(yaml.safe_dump(data))
    data["socketio"]["ping_interval"] = 20
    second_profile.write_text(yaml.safe_dump(data))
    options = transaction.DeployOptions(root=tmp_path / "root", echo=lambda _line: None)

    first = transaction.deploy(first_profile, options).release
    armed.append(True)
    host.commands.clear()
    with pytest.raises(transaction.DeployError, match=f"RuntimeError: a bug half-way through apply; rolled back "
                                                      f"to {first.id} and it verifies"):
        transaction.deploy(second_profile, options)
    layout = Layout(tmp_path / "root", "swarmbot")
    assert current_release(layout) == first
    # The rollback restarted every instance of the first release, each drained and put back by a reload.
    reload = [["nginx", "-t"], ["systemctl", "reload", "nginx.service"]]
    assert host.changes()[-11:] == [*reload, ["systemctl", "restart", "swarmbot@8050.service"], *reload,
                                    *reload, ["systemctl", "restart", "swarmbot@8051.service"], *reload,
                                    ["systemctl", "start", "swarmbot.target"]]
    logged = [json.loads(line) for line in layout.log.read_text().splitlines()]
    bug = next(entry for entry in logged if "traceback" in entry)
    assert bug["step"] == "failed" and "RuntimeError: a bug half-way through apply" in bug["traceback"]
    assert 'File "' in bug["traceback"]  # the frames, to find the bug by
    assert logged[-1]["step"] == "rollback" and logged[-1]["message"].endswith("and it verifies")
