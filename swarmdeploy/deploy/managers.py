"""The service managers, by name: systemd on real hosts, process where systemd is not PID 1."""

from __future__ import annotations

from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.process_manager import ProcessManager
from swarmdeploy.deploy.releases import Release
from swarmdeploy.deploy.systemd_manager import SystemdManager

def apply_release(kind: str, layout: Layout, release: Release, previous: Release | None, report) -> None:
    if kind == "process":
        ProcessManager(layout).apply(release, report)
    else:
        SystemdManager(layout).apply(release, previous, report)


def stop_release(kind: str, layout: Layout, release: Release | None) -> None:
    if kind == "process":
        ProcessManager(layout).stop_all()
    elif release is not None:
        SystemdManager(layout).stop(release)
