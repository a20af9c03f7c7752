"""Verify a release the way `swarmdeploy verify` does, and record it for a later bare verify."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from swarmdeploy.deploy.certificates import CA_FILE
from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.releases import Release
from swarmdeploy.deploy.services import NGINX
from swarmdeploy.validators.nginx import nginx_argv
from swarmdeploy.verify.api import verify
from swarmdeploy.verify.record import write_record
from swarmdeploy.verify.result import CheckResult, Status
from swarmdeploy.verify.target import Deployment, Target


def deployment_of(layout: Layout, release: Release, service_manager: str) -> Deployment:
    files = {str(layout.current / rel): digest for rel, digest in release.files().items()}
    prefix = layout.run / "nginx"
    nginx = (nginx_argv(NGINX, prefix, layout.current / "nginx" / "nginx.conf", prefix / "test-error.log")
             if service_manager == "process" else [NGINX])
    return Deployment(files=files, nginx_command=nginx)


def _trusted_ca(model: dict, ca_file: Path | None) -> Path | None:
    """--ca-file, else the profile's verify.ca_file, else the local CA a self-signed profile made."""
    tls = model["tls"]
    if ca_file or model["verify"]["ca_file"]:
        return ca_file or Path(model["verify"]["ca_file"])
    return Path(tls["certificate"]).parent / CA_FILE if tls["enabled"] and tls["self_signed"] else None


def target_of(layout: Layout, release: Release, service_manager: str, ca_file: Path | None = None) -> Target:
    model = release.model
    target = Target(url=model["verify"]["url"], origin=model["verify"]["origin"], ca_file=_trusted_ca(model, ca_file),
                    model=model, host="local://", deployment=deployment_of(layout, release, service_manager),
                    http_port=model["verify"]["http_port"])
    if not model["load_balancer"]["enabled"]:
        return target
    # One host of several: verify this host's own nginx, under the public name, not the balancer
    # (which may not send clients here yet). `swarmdeploy verify PROFILE` checks the balancer.
    site = model["site"]
    scheme, port = ("https", site["https_port"]) if site["serves_tls"] else ("http", site["http_port"])
    return dataclasses.replace(target, url=f"{scheme}://{model['load_balancer']['backend_server_name']}:{port}",
                               address=(site["listen_address"] or "127.0.0.1").strip("[]"),
                               http_port=site["http_port"] if site["serves_tls"] else None)


def verify_release(layout: Layout, release: Release, service_manager: str,
                   ca_file: Path | None = None) -> list[CheckResult]:
    target = target_of(layout, release, service_manager, ca_file)
    results = verify(target)
    summary = {"release": release.id, "status": "fail" if failed(results) else "pass",
               "checks": {r.check: r.status.value for r in results}}
    layout.last_verify.write_text(json.dumps(summary, indent=2) + "\n")
    if not failed(results):
        write_record(layout.state_root, target)
    return results


def failed(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.status is Status.FAIL]


def describe_failures(results: list[CheckResult]) -> str:
    return "; ".join(f"{r.check}: " + ", ".join(f"{o.saw} (fix: {o.fix})" for o in r.observations
                                                if o.status is Status.FAIL) for r in failed(results))
