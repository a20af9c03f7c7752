"""The deployment record a deploy leaves on the host, so a bare `swarmdeploy verify` knows what to check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from swarmdeploy.errors import SwarmdeployError, UsageError
from swarmdeploy.verify.target import Deployment, Target

LAST_DEPLOYMENT = "last-deployment.json"


def write_record(state_dir: Path, target: Target) -> Path:
    """Record the target a deploy verified, atomically, for a later bare `swarmdeploy verify`."""
    deployment = target.deployment or Deployment(files={})
    record = {"model": target.model, "url": target.url, "ca_file": str(target.ca_file) if target.ca_file else None,
              "host": target.host or "local://", "address": target.address,
              "through_balancer": target.through_balancer, "http_port": target.http_port,
              "files": deployment.files, "nginx_command": deployment.nginx_command}
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LAST_DEPLOYMENT
    staging = path.with_suffix(".tmp")
    staging.write_text(json.dumps(record, indent=2, sort_keys=True))
    staging.replace(path)
    return path


def read_record(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"no deployment recorded at {path}: pass a PROFILE or --url, or the --root the deploy "
                         "used") from None
    except ValueError as error:
        raise SwarmdeployError(f"{path} is not a deployment record: {error}") from None


def last_deployment(state_dir: Path) -> dict[str, Any]:
    return read_record(state_dir / LAST_DEPLOYMENT)


def target_from_record(record: dict[str, Any]) -> Target:
    """The target the deploy verified: same URL, address, CA and host, with the files to check for drift."""
    model = record.get("model")
    return Target(
        url=record["url"],
        origin=model["verify"]["origin"] if model else None,
        ca_file=Path(record["ca_file"]) if record.get("ca_file") else None,
        model=model,
        host=record.get("host"),
        deployment=Deployment(files=record.get("files", {}), nginx_command=record.get("nginx_command", [])),
        address=record.get("address"),
        through_balancer=record.get("through_balancer", False),
        http_port=record.get("http_port"),
    )
