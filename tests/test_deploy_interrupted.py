"""Killing a deploy at each step in turn leaves the old or the new release in place, never a mix,
and the next deploy succeeds."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from deploy_support import SWARMDEPLOY, LocalDeployment

from swarmdeploy.deploy.releases import current_release, list_releases

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
