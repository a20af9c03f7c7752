"""verify as a library call: build the target from a profile, a URL or the last deployment, run it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from swarmdeploy.deploy.layout import Layout
from swarmdeploy.errors import SwarmdeployError
from swarmdeploy.profile import load_profile
from swarmdeploy.verify.record import last_deployment, target_from_record
from swarmdeploy.verify.registry import CHECKS
from swarmdeploy.verify.result import CheckResult
from swarmdeploy.verify.runner import run_checks
from swarmdeploy.verify.target import Target


def build_target(profile: Path | None = None, url: str | None = None, origin: str | None = None,
                 ca_file: Path | None = None, host: str | None = None, soak: float = 0.0, browser: bool = False,
                 root: Path = Path("/"), address: str | None = None) -> Target:
    """What to verify. A profile or --url verifies the public URL (through the balancer when one is in
    front); neither verifies the last deployment recorded under `root` on this host, as the deploy did."""
    if profile is None and url is None:
        recorded = target_from_record(last_deployment(Layout(root, "").state_root))
        overrides = {"origin": origin, "ca_file": ca_file, "host": host, "address": address}
        return dataclasses.replace(recorded, soak=soak, browser=browser,
                                   **{key: given for key, given in overrides.items() if given})
    model = load_profile(profile).model if profile else None
    url = url or (model["verify"]["url"] if model else None)
    if not url:
        raise SwarmdeployError("nothing to verify: pass a PROFILE, --url, or deploy first")
    profile_ca = model["verify"]["ca_file"] if model else None
    return Target(
        url=url.rstrip("/"),
        origin=origin or (model["verify"]["origin"] if model else None),
        ca_file=ca_file or (Path(profile_ca) if profile_ca else None),
        model=model,
        host=host,
        soak=soak,
        browser=browser,
        address=address,
        through_balancer=bool(model and model["load_balancer"]["enabled"]),
        http_port=model["verify"]["http_port"] if model else None,
    )


def verify(target: Target, only: list[str] | None = None) -> list[CheckResult]:
    unknown = [name for name in only or [] if name not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check {', '.join(unknown)}; choose from {', '.join(CHECKS)}")
    return run_checks(target, only)
