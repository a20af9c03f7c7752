"""One change at a time per deployment: deploy, rollback, start, restart and stop take this lock."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

from swarmdeploy.deploy.layout import Layout
from swarmdeploy.errors import SwarmdeployError


class DeployLocked(SwarmdeployError):
    exit_code = 3


@contextmanager
def deploy_lock(layout: Layout) -> Iterator[None]:
    """Held for the whole change; the kernel drops the lock if we die."""
    layout.state.mkdir(parents=True, exist_ok=True)
    with layout.lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DeployLocked(f"another deploy of {layout.name} holds {layout.lock}; wait for it to finish") from None
        yield
