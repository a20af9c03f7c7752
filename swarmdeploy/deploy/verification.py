"""Verify a release the way `swarmdeploy verify` does, and record it for a later bare verify."""

from __future__ import annotations

import json
from pathlib import Path

from swarmdeploy.deploy.certificates import CA_FILE
from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.releases import Release
from swarmdeploy.deploy.services import NGINX
from swarmdeploy.verify.api import verify
from swarmdeploy.verify.record import write_record
from swarmdeploy.verify.result import CheckResult, Status
from swarmdeploy.verify.target import Deployment, Target


def deployment_of(layout: Layout, release: Release, service_manager: str) -> Deployment:
    files = {str(layout.current / rel): digest for rel, digest in release.files().items()}
    nginx = [NGINX, "-p", f"{layout.run / 'nginx'}/", "-c", str(layout.current / "nginx" / "nginx.conf"), "-e",
             str(layout.run / "nginx" / "test-error.log")] if service_manager == "process" else [NGINX]
    return Deployment(files=files, nginx_command=nginx)


def target_of(layout: Layout, release: Release, service_manager: str) -> Target:
    model = release.model
    tls = model["tls"]
    return Target(url=model["verify"]["url"], origin=model["verify"]["origin"],
                  ca_file=Path(tls["certificate"]).parent / CA_FILE if tls["enabled"] and tls["self_signed"] else None,
                  model=model, host="local://", deployment=deployment_of(layout, release, service_manager))


def verify_release(layout: Layout, release: Release, service_manager: str) -> list[CheckResult]:
    target = target_of(layout, release, service_manager)
    results = verify(target)
    summary = {"release": release.id, "status": "fail" if failed(results) else "pass",
               "checks": {r.check: r.status.value for r in results}}
    layout.last_verify.write_text(json.dumps(summary, indent=2) + "\n")
    if not failed(results):
        write_record(layout.state_root, release.model, target.url, target.deployment, target.ca_file)
    return results


def failed(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.status is Status.FAIL]


def describe_failures(results: list[CheckResult]) -> str:
    return "; ".join(f"{r.check}: " + ", ".join(f"{o.saw} (fix: {o.fix})" for o in r.observations
                                                if o.status is Status.FAIL) for r in failed(results))
