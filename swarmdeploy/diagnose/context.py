"""What diagnose looks at: the deployment under --root (its current release, service manager and services),
the profile when one is given (placed under --root as a deploy would place it), and the Scrubber that keeps
their secrets out of every part."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swarmdeploy.deploy.layout import Layout, checked_root, deployments
from swarmdeploy.deploy.managers import manager_of
from swarmdeploy.deploy.releases import Release, current_release
from swarmdeploy.deploy.rooted import deploy_profile
from swarmdeploy.deploy.status import deployment_status
from swarmdeploy.diagnose.scrub import Scrubber
from swarmdeploy.diagnose.secret_sources import scrubber_for
from swarmdeploy.errors import UsageError
from swarmdeploy.profile import load_profile


@dataclass(frozen=True)
class Context:
    root: Path
    name: str
    layout: Layout
    deployed: bool  # a state directory with releases exists (a first deploy that failed leaves one, no release)
    release: Release | None
    manager: str
    profile: Path | None
    profile_model: dict[str, Any] | None  # the profile's, placed under --root for the manager as a deploy would
    services: list[dict[str, Any]]  # `swarmdeploy status` rows: service, pid, running, health
    scrub: Scrubber
    fresh_verify: bool

    @property
    def model(self) -> dict[str, Any] | None:
        """What runs (the current release's), else what the profile would deploy."""
        return self.release.model if self.release else self.profile_model

    @property
    def running_pids(self) -> dict[str, int]:
        return {row["service"]: row["pid"] for row in self.services if row["pid"]}

    def command(self, *words: str) -> str:
        """How to type a swarmdeploy command for this deployment, for fixes in the summary."""
        return " ".join(["swarmdeploy", *words]) + (f" --root {self.root}" if self.root != Path("/") else "")


def gather(profile: Path | None, root: Path, name: str | None, fresh_verify: bool) -> Context:
    root = checked_root(root)
    name = _name(profile, root, name)
    layout = Layout(root, name)
    deployed = name in deployments(root)
    release = current_release(layout) if deployed else None
    manager = manager_of(release) if release else ("systemd" if root == Path("/") else "process")
    profile_model = deploy_profile(profile, root, manager).model if profile else None
    services = deployment_status(root, name)["services"] if deployed else []
    models = [model for model in (release.model if release else None, profile_model) if model]
    instances = {row["service"]: row["pid"] for row in services if row["pid"] and row["service"] != "nginx"}
    return Context(root, name, layout, deployed, release, manager, profile, profile_model, services,
                   scrubber_for(models, instances), fresh_verify)


def _name(profile: Path | None, root: Path, name: str | None) -> str:
    """--name, else the profile's, else the only deployment under root."""
    if name:
        return name
    if profile:
        return load_profile(profile).model["name"]
    found = deployments(root)
    if len(found) != 1:
        where = f"found {', '.join(found)}: pass --name" if found else "found none: pass the --root the deploy used"
        raise UsageError(f"which deployment under {root}? {where}, or a PROFILE")
    return found[0]
