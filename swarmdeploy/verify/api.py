"""verify as a library call: build the target from a profile, a URL or the last deployment, run it."""

from __future__ import annotations

from pathlib import Path

from swarmdeploy.errors import SwarmdeployError
from swarmdeploy.profile import load_profile
from swarmdeploy.verify.record import deployment_from_record, last_deployment
from swarmdeploy.verify.registry import CHECKS
from swarmdeploy.verify.result import CheckResult
from swarmdeploy.verify.runner import run_checks
from swarmdeploy.verify.target import Target


def build_target(profile: Path | None = None, url: str | None = None, origin: str | None = None,
                 ca_file: Path | None = None, host: str | None = None, soak: float = 0.0, browser: bool = False,
                 state_dir: Path | None = None) -> Target:
    record = None
    if profile is None and url is None:
        record = last_deployment(state_dir) if state_dir else last_deployment()
    model = load_profile(profile).model if profile else (record or {}).get("model")
    url = url or (record or {}).get("url") or (model["verify"]["url"] if model else None)
    if not url:
        raise SwarmdeployError("nothing to verify: pass a PROFILE, --url, or deploy first")
    ca = ca_file or (Path(record["ca_file"]) if record and record.get("ca_file") else None)
    return Target(
        url=url.rstrip("/"),
        origin=origin or (model["verify"]["origin"] if model else None),
        ca_file=ca,
        model=model,
        host=host or (record or {}).get("host"),
        deployment=deployment_from_record(record) if record else None,
        soak=soak,
        browser=browser,
    )


def verify(target: Target, only: list[str] | None = None) -> list[CheckResult]:
    unknown = [name for name in only or [] if name not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check {', '.join(unknown)}; choose from {', '.join(CHECKS)}")
    return run_checks(target, only)
