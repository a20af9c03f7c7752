"""The systemd service manager, as far as a machine without systemd as PID 1 allows: the files it
links into place, the commands it runs (recorded), and units that systemd-analyze verifies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import PROFILES, require_tool
from swarmdeploy.bundle import manifest
from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.releases import Release, store_release, switch_current
from swarmdeploy.deploy.rooted import deploy_profile
from swarmdeploy.deploy.services import UnknownService
from swarmdeploy.deploy.systemd_manager import SystemdManager
from swarmdeploy.render import render_files


class Recorder:
    def __init__(self) -> None:
        self.commands: list[list[str]] = []

    def __call__(self, argv: list[str]) -> subprocess.CompletedProcess:
        self.commands.append(argv)
        return subprocess.CompletedProcess(argv, 0, "", "")


class Host(Recorder):
    """systemctl on a host where some units are inactive: `show` answers for each unit."""

    def __init__(self, inactive: set[str]) -> None:
        super().__init__()
        self.inactive = inactive

    def __call__(self, argv: list[str]) -> subprocess.CompletedProcess:
        self.commands.append(argv)
        if argv[:2] != ["systemctl", "show"]:
            return subprocess.CompletedProcess(argv, 0, "", "")
        down = argv[-1] in self.inactive
        return subprocess.CompletedProcess(argv, 0, f"ActiveState={'inactive' if down else 'active'}\n"
                                                    f"MainPID={0 if down else 4242}\n", "")


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
    recorder = Recorder()
    SystemdManager(layout, recorder, wait_healthy=False).apply(first, None, report=lambda _m: None)
    assert recorder.commands == [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "swarmbot.target"],
        ["systemctl", "enable", "swarmbot@8050.service"], ["systemctl", "restart", "swarmbot@8050.service"],
        ["systemctl", "enable", "swarmbot@8051.service"], ["systemctl", "restart", "swarmbot@8051.service"],
        ["nginx", "-t"],
        ["systemctl", "reload", "nginx"],
    ]
    unit = root / "etc/systemd/system/swarmbot@.service"
    assert unit.is_symlink() and unit.resolve() == (first.path / "systemd/swarmbot@.service").resolve()
    env_file = Path(first.model["server"]["env_file"])
    assert env_file.is_relative_to(root) and env_file.resolve().read_text().startswith("# Rendered by swarmdeploy")
    assert (root / "etc/nginx/conf.d/swarmbot.conf").resolve().is_file()

    _, second = release_for(root, tmp_path, 1, "20260101T000001-bbbbbb")
    recorder.commands.clear()
    SystemdManager(layout, recorder, wait_healthy=False).apply(second, first, report=lambda _m: None)
    assert ["systemctl", "disable", "--now", "swarmbot@8051.service"] in recorder.commands
    assert ["systemctl", "restart", "swarmbot@8051.service"] not in recorder.commands
    assert unit.resolve() == (second.path / "systemd/swarmbot@.service").resolve()


def test_systemd_status_start_and_restart_are_their_systemctl_equivalents(tmp_path: Path) -> None:
    layout, release = release_for(tmp_path / "root", tmp_path, 2, "20260101T000000-aaaaaa")
    host = Host(inactive={"swarmbot@8051.service"})
    manager = SystemdManager(layout, host, wait_healthy=False)
    rows = {row["service"]: row for row in manager.status(release)}
    assert set(rows) == {"instance-8050", "instance-8051", "nginx"}
    assert rows["instance-8050"]["running"] and rows["instance-8050"]["pid"] == 4242
    assert not rows["instance-8051"]["running"] and rows["instance-8051"]["pid"] is None
    host.commands.clear()
    assert manager.start(release, report=lambda _m: None) == ["instance-8051"]
    assert [c for c in host.commands if c[1] != "show"] == [["systemctl", "start", "swarmbot@8051.service"]]
    host.commands.clear()
    manager.restart(release, "instance-8050", report=lambda _m: None)
    assert host.commands == [["systemctl", "restart", "swarmbot@8050.service"]]
    with pytest.raises(UnknownService, match="choose from instance-8050, instance-8051, nginx"):
        manager.restart(release, "redis", report=lambda _m: None)


@pytest.mark.integration
def test_linked_units_verify_cleanly(tmp_path: Path) -> None:
    analyze = require_tool("systemd-analyze")
    root = tmp_path / "root"
    layout, release = release_for(root, tmp_path, 2, "20260101T000000-aaaaaa")
    SystemdManager(layout, Recorder(), wait_healthy=False).apply(release, None, report=lambda _m: None)
    unit_dir = root / "etc/systemd/system"
    result = subprocess.run([analyze, "verify", "swarmbot@8050.service", "swarmbot@8051.service", "swarmbot.target"],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "SYSTEMD_UNIT_PATH": f"{unit_dir}:"})
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_preflight_names_the_package_of_a_missing_program(tmp_path: Path, monkeypatch) -> None:
    from swarmdeploy.deploy.preflight import missing_programs
    from swarmdeploy.profile import load_profile

    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without nginx and redis-server
    model = load_profile(PROFILES / "local.yaml").model
    assert missing_programs(model) == ["nginx is not installed: apt-get install nginx",
                                       "redis-server is not installed: apt-get install redis-server"]
