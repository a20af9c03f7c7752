"""swarmdeploy deploy with the process manager: real nginx, instances and Redis under a temporary
root; redeploy, rollback on a failed verify, dry-run, the lock, status."""

from __future__ import annotations

import fcntl
import json
import queue
from pathlib import Path

import pytest
import socketio
from deploy_support import LocalDeployment, run, tree_hash

from swarmdeploy.deploy.releases import current_release, list_releases

pytestmark = pytest.mark.integration

BROKEN_APP = '''
def create_app():
    raise RuntimeError("the dashboard's database is unreachable")
'''


def status(local: LocalDeployment) -> dict:
    result = run("status", "--root", str(local.root), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def release_hashes(local: LocalDeployment) -> dict[str, str]:
    release = current_release(local.layout)
    return {rel: digest for rel, digest in release.files().items()} | {"id": release.id}


def test_deploy_local_profile_verifies_and_status_reports_it(local: LocalDeployment) -> None:
    result = local.deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "11 pass, 0 warn, 0 fail, 3 skip" in result.stdout  # the verify table
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
    again = run("verify", "--json", env={"SWARMDEPLOY_STATE_DIR": str(local.layout.state_root)})
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
    assert not any(r["running"] for r in status(local)["services"])
    result = local.deploy()  # the managed Redis is down: apply starts it, preflight must not refuse
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(r["running"] for r in status(local)["services"])
