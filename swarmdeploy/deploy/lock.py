"""One change at a time per deployment: deploy, rollback, start, restart and stop take this lock."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

from swarmdeploy.deploy.layout import Layout, existing_layout
from swarmdeploy.errors import Locked


def _held(layout: Layout) -> Locked:
    return Locked(f"another deploy, rollback, start, restart or stop of {layout.name} holds {layout.lock}; "
                  "wait for it to finish")


@contextmanager
def deploy_lock(layout: Layout, create: bool = False) -> Iterator[None]:
    """Held for the whole change; the kernel drops the lock if we die. Only a deploy (create) makes the
    state directory: any other change needs a deployment that exists, and writes nothing when it does not."""
    if create:
        layout.state.mkdir(parents=True, exist_ok=True)
    else:
        existing_layout(layout.root, layout.name)
    with layout.lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _held(layout) from None
        yield


def check_unlocked(layout: Layout) -> None:
    """Locked now, before anything is written, when another change holds the lock: a deploy asks before its
    preflight, which the other change's half-started services would fail with a misleading reason."""
    try:
        handle = layout.lock.open("r")
    except OSError:
        return  # no lock file: no change ever ran; unreadable: deploy_lock says why when it is taken
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _held(layout) from None
