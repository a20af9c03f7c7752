"""Operating the current release of a deployment: start what is down, restart services, stop. Each
holds the deploy lock, so none runs in the middle of a deploy or a rollback, and each uses the service
manager the release was deployed with."""

from __future__ import annotations

from pathlib import Path

from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.lock import deploy_lock
from swarmdeploy.deploy.managers import Report, manager_of, service_manager
from swarmdeploy.deploy.releases import Release, current_release
from swarmdeploy.errors import SwarmdeployError


class NothingDeployed(SwarmdeployError):
    exit_code = 2


def _current(layout: Layout) -> Release:
    release = current_release(layout)
    if release is None:
        raise NothingDeployed(f"{layout.name} has no current release under {layout.root}: deploy it first")
    return release


def start(root: Path, name: str, report: Report = print) -> list[str]:
    """Start the current release's services that are not running; returns their names."""
    layout = Layout(root, name)
    with deploy_lock(layout):
        release = _current(layout)
        return service_manager(manager_of(release), layout).start(release, report)


def restart(root: Path, name: str, service: str | None, report: Report = print) -> None:
    """Restart one service of the current release, or (service None) every instance one at a time."""
    layout = Layout(root, name)
    with deploy_lock(layout):
        release = _current(layout)
        service_manager(manager_of(release), layout).restart(release, service, report)


def stop(root: Path, name: str) -> None:
    layout = Layout(root, name)
    with deploy_lock(layout):
        release = current_release(layout)
        service_manager(manager_of(release), layout).stop(release)
