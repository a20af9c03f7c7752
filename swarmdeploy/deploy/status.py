"""`swarmdeploy status`: the current release, its services and health, the last verify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.process_manager import ProcessManager
from swarmdeploy.deploy.releases import current_release


def deployment_status(root: Path, name: str) -> dict[str, Any]:
    layout = Layout(root, name)
    release = current_release(layout)
    manager = release.info["service_manager"] if release else "process"
    try:
        last = json.loads(layout.last_verify.read_text())
    except (OSError, ValueError):
        last = None
    return {"name": name, "release": release.id if release else None, "service_manager": manager,
            "services": ProcessManager(layout).status(release) if manager == "process" else [],
            "last_verify": last}
