"""`swarmdeploy status`: the current release, its services and health, the last verify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.managers import manager_of, service_manager
from swarmdeploy.deploy.releases import current_release

DOWN_EXIT_CODE = 3  # like `systemctl is-active`: nothing deployed, or a service of the current release stopped


def deployment_status(root: Path, name: str) -> dict[str, Any]:
    layout = Layout(root, name)
    release = current_release(layout)
    manager = manager_of(release)
    try:
        last = json.loads(layout.last_verify.read_text())
    except (OSError, ValueError):
        last = None
    services = service_manager(manager, layout).status(release)
    # Only the release's services can be stopped rows: others are listed while they still run.
    down = [row["service"] for row in services if not row["running"]]
    return {"name": name, "release": release.id if release else None, "service_manager": manager,
            "services": services, "down": down, "last_verify": last}


def is_up(report: dict[str, Any]) -> bool:
    return report["release"] is not None and not report["down"]
