"""The deployment record a deploy leaves on the host, so a bare `swarmdeploy verify` knows what to check."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from swarmdeploy.errors import SwarmdeployError
from swarmdeploy.verify.target import Deployment

STATE_DIR = Path(os.environ.get("SWARMDEPLOY_STATE_DIR", "/var/lib/swarmdeploy"))
LAST_DEPLOYMENT = "last-deployment.json"


def write_record(state_dir: Path, model: dict[str, Any], url: str, deployment: Deployment,
                 ca_file: Path | None = None, host: str = "local://") -> Path:
    """Record what was deployed, atomically, for a later bare `swarmdeploy verify`."""
    record = {"model": model, "url": url, "ca_file": str(ca_file) if ca_file else None, "host": host,
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
        raise SwarmdeployError(f"no deployment recorded at {path}: pass a PROFILE or --url") from None
    except ValueError as error:
        raise SwarmdeployError(f"{path} is not a deployment record: {error}") from None


def last_deployment(state_dir: Path = STATE_DIR) -> dict[str, Any]:
    return read_record(state_dir / LAST_DEPLOYMENT)


def deployment_from_record(record: dict[str, Any]) -> Deployment:
    return Deployment(files=record.get("files", {}), nginx_command=record.get("nginx_command", []))
