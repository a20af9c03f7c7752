"""swarmdeploy deploy with the process manager: real nginx, instances and Redis under a temporary
root; redeploy (and a redeploy with nothing changed), rollback on a failed verify, dry-run, the lock,
directories nginx writes to, status, start and restart, the environment file read at every start."""

from __future__ import annotations

import fcntl
import json
import os
import queue
import re
import shutil
import signal
import socket
from pathlib import Path

import pytest
import socketio
import yaml
from deploy_support import (LocalDeployment, interval_or_none, ping_interval, run, said, set_ping_interval,
                            tree_hash, with_default_nginx_paths)

from swarmdeploy.deploy.health import wait_for
from swarmdeploy.deploy.process_manager import pid_alive
from swarmdeploy.deploy.releases import Release, current_release, list_releases, switch_current
from swarmdeploy.deploy.transaction import DeployOptions, deploy
from swarmdeploy.errors import Locked
from swarmdeploy.verify.registry import CHECKS

pytestmark = pytest.mark.integration

BROKEN_APP = '''
def create_app():
    raise RuntimeError("the dashboard's database is unreachable")
'''


def status(local: LocalDeployment, expect: int = 0) -> dict:
    return local.status(expect)


def release_hashes(local: LocalDeployment) -> dict[str, str]:
    release = current_release(local.layout)
    return {rel: digest for rel, digest in release.files().items()} | {"id": release.id}


def test_deploy_local_profile_verifies_and_status_reports_it(local: LocalDeployment) -> None:
    result = local.deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(CHECKS) - 3} pass, 0 warn, 0 fail, 3 skip" in result.stdout  # the verify table: all but 3 run
    # Piped output (a log, CI) fits 100 columns, and the plan lists its first file below the tag.
    lines = result.stdout.splitlines()
    assert all(len(line) <= 100 or len(line.split()) == 1 for line in lines), max(lines, key=len)  # a long path
    plan = next(i for i, line in enumerate(lines) if line.startswith("[plan]"))
    assert "+ " not in lines[plan] and lines[plan + 1].startswith("  + "), lines[plan:plan + 2]
    report = status(local)
    assert report["release"] == current_release(local.layout).id
    assert report["last_verify"]["status"] == "pass"
    services = {row["service"]: row for row in report["services"]}
    assert {"redis", "nginx", *(f"instance-{p}" for p in local.layout and
                                 [local.data["server"]["base_port"], local.data["server"]["base_port"] + 1])} <= set(services)
    assert all(row["running"] for row in services.values())
    assert all(row["health"]["status"] == "ok" for name, row in services.items() if name.startswith("instance-"))
    # Private files are not world-readable.
    release = current_release(local.layout)
    env_file = next(release.path.glob("systemd/*.env"))
    assert env_file.stat().st_mode & 0o077 == 0
    key = Path(release.model["tls"]["certificate_key"])
    assert key.stat().st_mode & 0o077 == 0


def test_redeploy_with_three_instances_keeps_clients(local: LocalDeployment) -> None:
    assert local.deploy().returncode == 0
    client = socketio.Client(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1, ssl_verify=False)
    pongs: queue.Queue = queue.Queue()
    client.on("pong", pongs.put)
    client.connect(local.https_url, transports=["websocket"], wait_timeout=10)
    try:
        client.emit("ping", {"n": 1})
        before = pongs.get(timeout=5)["instance"]
        changed = local.write(server={"instances": 3})
        result = local.deploy(profile=changed)
        assert result.returncode == 0, result.stdout + result.stderr
        assert len(current_release(local.layout).model["server"]["ports"]) == 3
        # The instance the client was on restarted: it reconnects and is served again.
        for _ in range(50):
            if client.connected:
                try:
                    client.emit("ping", {"n": 2})
                    pongs.get(timeout=0.5)
                    break
                except (queue.Empty, socketio.exceptions.BadNamespaceError):
                    pass
            client.sleep(0.2)
        else:
            pytest.fail("the client did not reconnect after the redeploy")
        assert before
        healthy = [r for r in status(local)["services"] if r["service"].startswith("instance-") and r["health"]]
        assert len(healthy) == 3
    finally:
        client.disconnect()


def test_failed_verification_rolls_back_to_identical_previous_release(local: LocalDeployment, tmp_path: Path) -> None:
    assert local.deploy().returncode == 0
    previous = release_hashes(local)
    previous_tree = tree_hash(current_release(local.layout).path)
    (tmp_path / "broken_dashboard.py").write_text(BROKEN_APP)
    broken = local.write(server={"app": "broken_dashboard:create_app"})
    result = local.deploy(profile=broken, env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 1, result.stdout
    assert "did not answer /healthz" in result.stderr and "database is unreachable" in result.stderr
    assert f"rolled back to {previous['id']} and it verifies" in result.stderr
    assert release_hashes(local) == previous
    assert tree_hash(current_release(local.layout).path) == previous_tree
    report = status(local)
    assert report["release"] == previous["id"] and report["last_verify"]["status"] == "pass"
    assert all(r["running"] for r in report["services"])
    again = run("verify", "--root", str(local.root), "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["status"] == "pass"


def test_dry_run_changes_nothing(local: LocalDeployment) -> None:
    first = local.deploy("--dry-run")
    assert first.returncode == 0, first.stderr
    assert "nothing was written" in first.stdout and not local.root.exists()
    assert local.deploy().returncode == 0
    before = tree_hash(local.root, skip=local.layout.run)
    changed = local.write(socketio={"ping_interval": 20})
    result = local.deploy("--dry-run", profile=changed)
    assert result.returncode == 0, result.stderr
    assert "-SWARMDEPLOY_PING_INTERVAL=25" in result.stdout and "+SWARMDEPLOY_PING_INTERVAL=20" in result.stdout
    assert tree_hash(local.root, skip=local.layout.run) == before


def test_a_second_concurrent_deploy_is_refused(local: LocalDeployment) -> None:
    local.layout.state.mkdir(parents=True)
    with local.layout.lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = local.deploy()
    assert result.returncode == 3 and "another deploy" in result.stderr
    assert list_releases(local.layout) == []


def test_rollback_command_restores_the_release_before(local: LocalDeployment) -> None:
    assert local.deploy().returncode == 0
    first = current_release(local.layout).id
    assert local.deploy(profile=local.write(server={"instances": 3})).returncode == 0
    result = run("rollback", "--root", str(local.root), "--service-manager", "process")
    assert result.returncode == 0, result.stdout + result.stderr
    assert current_release(local.layout).id == first
    listing = run("releases", "--root", str(local.root)).stdout
    assert f"* {first}" in listing and len(listing.splitlines()) == 2
    instances = [r for r in status(local)["services"] if r["service"].startswith("instance-") and r["running"]]
    assert len(instances) == 2


def test_deploy_after_stop_starts_everything_again(local: LocalDeployment) -> None:
    assert local.deploy().returncode == 0
    assert run("stop", "--root", str(local.root)).returncode == 0
    assert not any(r["running"] for r in status(local, expect=3)["services"])
    result = local.deploy()  # the managed Redis is down: apply starts it, preflight must not refuse
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(r["running"] for r in status(local)["services"])


def test_default_nginx_paths_under_root_are_created_and_nginx_starts(local: LocalDeployment) -> None:
    defaults = with_default_nginx_paths(local)  # proxy.log_dir /var/log/nginx, pid_file /run/nginx.pid
    result = defaults.deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"created {local.root / 'var/log/nginx'}" in said(result)
    assert (local.root / "var/log/nginx/error.log").is_file() and (local.root / "run/nginx.pid").is_file()


def test_preflight_refuses_a_log_dir_apply_could_not_create(local: LocalDeployment) -> None:
    defaults = with_default_nginx_paths(local)
    (local.root / "var").mkdir(parents=True)
    (local.root / "var/log").write_text("a file where nginx's log directory must go\n")
    result = defaults.deploy()
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"proxy.log_dir: cannot create {local.root / 'var/log/nginx'}: {local.root / 'var/log'} is not a " \
           "directory" in said(result)
    assert "nothing was changed" in result.stderr
    assert list_releases(local.layout) == [] and not local.layout.run.exists()


def test_redeploy_without_changes_keeps_release_and_instances(local: LocalDeployment) -> None:
    assert local.deploy().returncode == 0
    release = current_release(local.layout).id
    pids = {name: row["pid"] for name, row in local.services().items()}
    again = local.deploy()
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"nothing to deploy: release {release} is current" in said(again)
    assert "Deployed release" not in again.stdout
    assert {name: row["pid"] for name, row in local.services().items()} == pids
    assert [r.id for r in list_releases(local.layout)] == [release]

    # Nothing changed but an instance is down: it is started, still without a new release.
    instance = next(name for name in pids if name.startswith("instance-"))
    assert run("stop", "--root", str(local.root)).returncode == 0
    started = local.deploy()
    assert started.returncode == 0, started.stdout + started.stderr
    assert f"[apply] started {instance}" in said(started)
    assert all(row["running"] for row in local.services().values())
    assert [r.id for r in list_releases(local.layout)] == [release]

    forced = local.deploy("--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert len(list_releases(local.layout)) == 2 and current_release(local.layout).id != release


def test_killed_supervisor_shows_in_status_and_start_brings_it_back(local: LocalDeployment) -> None:
    assert local.deploy().returncode == 0
    instance = f"instance-{local.data['server']['base_port']}"
    row = local.services()[instance]
    assert row["pid"] != row["supervisor"]  # status shows the service's own process, and its supervisor
    os.kill(row["supervisor"], signal.SIGKILL)
    # The instance dies with its supervisor, as a unit's processes do: no orphan keeps the port.
    assert wait_for(lambda: not pid_alive(row["pid"]), 20), "the instance outlived its supervisor"
    down = run("status", "--root", str(local.root))
    assert down.returncode == 3, down.stdout + down.stderr
    assert re.search(rf"{instance}\s+STOPPED", down.stdout)
    assert f"down: {instance}; start: swarmdeploy start {local.data['name']} --root {local.root}" in down.stderr
    started = run("start", "--root", str(local.root))
    assert started.returncode == 0, started.stdout + started.stderr
    assert f"Started {instance}." in started.stdout
    assert local.services()[instance]["health"]["status"] == "ok"  # status exits 0 again


def test_restart_of_one_instance_and_crash_restarts_read_the_env_file_again(local: LocalDeployment) -> None:
    assert local.deploy().returncode == 0
    port = local.data["server"]["base_port"]
    env_file = Path(current_release(local.layout).model["server"]["env_file"])
    assert ping_interval(port) == 25000
    # A crash: the supervisor starts the instance again, with the file as it is now.
    set_ping_interval(env_file, 7)
    crashed = local.services()[f"instance-{port}"]["pid"]
    os.kill(crashed, signal.SIGKILL)
    assert wait_for(lambda: local.services()[f"instance-{port}"]["pid"] not in (None, crashed), 20)
    assert wait_for(lambda: interval_or_none(port) == 7000, 20)
    # A restart by name, one instance only.
    set_ping_interval(env_file, 9)
    other = local.services()[f"instance-{port + 1}"]["pid"]
    result = run("restart", f"instance-{port}", "--root", str(local.root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert ping_interval(port) == 9000
    assert local.services()[f"instance-{port + 1}"]["pid"] == other

    unknown = run("restart", "instance-1", "--root", str(local.root))
    assert unknown.returncode == 2 and "no service instance-1 in this release: choose from redis" in unknown.stderr


@pytest.mark.parametrize("unsafe", ["x;y", "x y", "x%y", "x'y"])
def test_a_root_configs_cannot_hold_is_refused_by_a_dry_run_and_a_deploy_alike(local: LocalDeployment,
                                                                              unsafe: str) -> None:
    root = local.root.parent / unsafe
    for extra in (["--dry-run"], []):
        result = run("deploy", str(local.profile), "--root", str(root), "--service-manager", "process", "--yes", *extra)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.startswith(f"error: --root {root}: only letters, digits"), result.stderr
        assert not root.exists(), f"{extra or 'the deploy'} wrote under the refused root"


def test_a_profile_path_cannot_lead_out_of_the_root(local: LocalDeployment, tmp_path: Path) -> None:
    escape = "/.." * len(local.root.parts) + str(tmp_path / "outside")  # from under the root back to tmp_path
    data = {**local.data, "tls": {**local.data["tls"], "certificate": f"{escape}/fullchain.pem",
                                  "certificate_key": f"{escape}/privkey.pem"}}
    profile = tmp_path / "escaping.yaml"
    profile.write_text(yaml.safe_dump(data, sort_keys=False))
    for extra in (["--dry-run"], []):
        result = local.deploy(*extra, profile=profile)
        assert result.returncode == 2 and "tls.certificate" in result.stderr, result.stdout + result.stderr
    assert not (tmp_path / "outside").exists() and not local.root.exists()


def test_nothing_is_written_before_preflight_passes(local: LocalDeployment) -> None:
    """Not the self-signed certificate and its CA, the lock, the log or the state directory."""
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", local.data["site"]["https_port"]))
        stranger.listen()
        result = local.deploy()
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"port {local.data['site']['https_port']} on 127.0.0.1 is in use" in said(result)
    assert "nothing was changed" in result.stderr
    assert not local.root.exists(), sorted(str(p) for p in local.root.rglob("*"))


def test_a_release_switched_while_the_deploy_planned_stops_it_with_the_lock_code(local: LocalDeployment) -> None:
    assert local.deploy().returncode == 0
    first = current_release(local.layout)
    meanwhile = local.layout.releases / "29990101T000000-000000"

    def another_change_switches_release(_plan) -> bool:
        shutil.copytree(first.path, meanwhile, symlinks=True)
        switch_current(local.layout, Release(meanwhile.name, meanwhile))
        return True

    changed = local.write(socketio={"ping_interval": 20})
    with pytest.raises(Locked, match=f"release {meanwhile.name} became current while this deploy planned against "
                                     f"{first.id}; nothing was changed") as raised:
        deploy(changed, DeployOptions(root=local.root, service_manager="process",
                                      confirm=another_change_switches_release, echo=lambda _line: None))
    assert raised.value.exit_code == 3
    assert [r.id for r in list_releases(local.layout)] == [first.id, meanwhile.name]
    assert current_release(local.layout).id == meanwhile.name
