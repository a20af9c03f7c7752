"""Confirm that an nginx reload took effect: nginx answers a reload signal (and `-s reload` exits 0)
even when the new configuration fails, and then starts no new workers. New workers are the proof;
old ones may linger while their WebSockets drain (up to worker_shutdown_timeout)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from swarmdeploy.deploy.health import wait_for
from swarmdeploy.errors import SwarmdeployError

RELOAD_TIMEOUT = 15.0


class ApplyError(SwarmdeployError):
    """A service did not come up with the new release."""


def workers(master: int) -> set[int]:
    found = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True, timeout=10)
    return {int(p) for p in found.stdout.split()}


def error_log_tail(log_dir: str, lines: int = 5) -> str:
    path = Path(log_dir) / "error.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def confirm_reload(master: int, before: set[int], log_dir: str) -> None:
    if not wait_for(lambda: workers(master) - before, RELOAD_TIMEOUT):
        raise ApplyError("nginx kept its old configuration after the reload:\n" + error_log_tail(log_dir))
