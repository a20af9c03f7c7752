"""Killing a deploy at each step in turn, or failing a write in the middle of the release, leaves the
old or the new release in place, never a mix, and the next deploy succeeds."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
from pathlib import Path

import pytest
from deploy_support import SWARMDEPLOY, LocalDeployment, run

from swarmdeploy.deploy.releases import current_release, list_releases
from swarmdeploy.deploy.transaction import DeployError, DeployOptions, deploy

pytestmark = pytest.mark.integration

STEPS = ["render", "preflight", "plan", "install", "apply", "verify"]


def deploy_killed_at(local: LocalDeployment, profile: Path, step: str) -> None:
    """Run a deploy and SIGKILL it as soon as it reports `step`."""
    process = subprocess.Popen([SWARMDEPLOY, "deploy", str(profile), "--root", str(local.root),
                                "--service-manager", "process", "--yes"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        for line in process.stdout:
            if line.startswith(f"[{step}]"):
                os.kill(process.pid, signal.SIGKILL)
                break
        else:
            pytest.fail(f"the deploy never reached {step}")
    finally:
        process.wait(60)
        process.stdout.close()


@pytest.mark.parametrize("step", STEPS)
def test_a_killed_deploy_leaves_one_whole_release_and_the_next_deploy_succeeds(local: LocalDeployment,
                                                                               step: str) -> None:
    assert local.deploy().returncode == 0
    old = current_release(local.layout)
    changed = local.write(server={"instances": 3})
    deploy_killed_at(local, changed, step)
    now = current_release(local.layout)
    assert now is not None and now.intact(), f"current is not a whole release after a kill at {step}"
    ids = [r.id for r in list_releases(local.layout)]
    assert now.id == old.id or (now.id in ids and len(now.model["server"]["ports"]) == 3)
    assert all(r.intact() for r in list_releases(local.layout)), "a release directory is incomplete"
    result = local.deploy(profile=changed)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(current_release(local.layout).model["server"]["ports"]) == 3


def test_a_write_failing_inside_the_release_leaves_no_release_and_the_next_deploy_succeeds(
        local: LocalDeployment, monkeypatch: pytest.MonkeyPatch) -> None:
    assert local.deploy().returncode == 0
    old = current_release(local.layout)
    listing = run("releases", "--root", str(local.root)).stdout
    changed = local.write(server={"instances": 3})
    # The disk fills up on the third file of the release: two are written, the rest never are.
    real_write, staged = Path.write_text, []

    def write_text(path: Path, *args, **kwargs) -> int:
        if path.is_relative_to(local.layout.releases):
            staged.append(path)
            if len(staged) == 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_write(path, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    with pytest.raises(DeployError, match=f"could not write release .*No space left on device.*release {old.id} "
                                          "stays current"):
        deploy(changed, DeployOptions(root=local.root, service_manager="process", echo=lambda _line: None))
    monkeypatch.undo()
    assert all(".staging-" in str(path) for path in staged)  # it failed inside the release write
    assert [p.name for p in local.layout.releases.iterdir()] == [old.id], "an incomplete release was left"
    assert run("releases", "--root", str(local.root)).stdout == listing
    assert current_release(local.layout) == old and old.intact()
    assert run("status", "--root", str(local.root)).returncode == 0  # the old release still serves
    result = local.deploy(profile=changed)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(current_release(local.layout).model["server"]["ports"]) == 3
