"""The service managers, by name: systemd on real hosts, process where systemd is not PID 1. Both
apply a release, start what is down, restart services, stop, and report each service's state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.process_manager import ProcessManager
from swarmdeploy.deploy.releases import Release
from swarmdeploy.deploy.systemd_manager import SystemdManager

Report = Callable[[str], None]


class ServiceManager(Protocol):
    def apply(self, release: Release, previous: Release | None, report: Report) -> None: ...

    def start(self, release: Release, report: Report) -> list[str]: ...

    def restart(self, release: Release, name: str | None, report: Report) -> None: ...

    def stop(self, release: Release | None) -> None: ...

    def status(self, release: Release | None) -> list[dict[str, Any]]: ...


MANAGERS: dict[str, Callable[[Layout], ServiceManager]] = {"process": ProcessManager, "systemd": SystemdManager}


def service_manager(kind: str, layout: Layout) -> ServiceManager:
    return MANAGERS[kind](layout)


def manager_of(release: Release | None) -> str:
    """The manager a release was deployed with; with none deployed, the process manager (it finds what
    a failed first deploy left running by its pid files)."""
    return release.info["service_manager"] if release else "process"
