"""The model a deploy installs: the profile's, with every host path placed under --root."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from swarmdeploy.deploy.layout import Layout
from swarmdeploy.profile import Profile, load_profile

PATH_FIELDS = (("proxy", "pid_file"), ("proxy", "log_dir"), ("tls", "certificate"), ("tls", "certificate_key"),
               ("server", "config_dir"))


def deploy_profile(profile_path: Path, root: Path, service_manager: str) -> Profile:
    """With the process manager, instances run from this Python's environment (as `serve` does)."""

    def adjust(data: dict[str, Any]) -> None:
        data["server"]["config_dir"] = data["server"]["config_dir"] or f"/etc/swarmdeploy/{data['name']}"
        if root != Path("/"):
            layout = Layout(root, data["name"])
            for section, field in PATH_FIELDS:
                if data[section].get(field):
                    data[section][field] = layout.under_root(data[section][field])
        if service_manager == "process":
            data["server"]["venv"] = sys.prefix

    return load_profile(profile_path, adjust)
