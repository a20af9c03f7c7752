"""The model a deploy installs: the profile's, with every host path placed under --root."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from swarmdeploy.deploy.layout import Layout, checked_root, path_problem
from swarmdeploy.errors import UsageError
from swarmdeploy.profile import Profile, load_profile

PATH_FIELDS = (("proxy", "pid_file"), ("proxy", "log_dir"), ("tls", "certificate"), ("tls", "certificate_key"),
               ("server", "config_dir"))


def deploy_profile(profile_path: Path, root: Path, service_manager: str) -> Profile:
    """With the process manager, instances run from this Python's environment (as `serve` does). Every path
    this adds to the model follows the profile's path rule, as the profile's own do: each is written into
    nginx and systemd files, where a space or a ; would change their meaning."""
    root = checked_root(root)

    def adjust(data: dict[str, Any]) -> None:
        data["server"]["config_dir"] = data["server"]["config_dir"] or f"/etc/swarmdeploy/{data['name']}"
        if root != Path("/"):
            layout = Layout(root, data["name"])
            for section, field in PATH_FIELDS:
                if data[section].get(field):
                    data[section][field] = layout.under_root(data[section][field], f"{section}.{field}")
        if service_manager == "process":
            data["server"]["venv"] = _this_environment()

    return load_profile(profile_path, adjust)


def _this_environment() -> str:
    problem = path_problem(sys.prefix)
    if problem:
        raise UsageError(f"the process manager runs the instances from this Python environment, {sys.prefix}, "
                         f"but {problem}; install swarmdeploy in a virtualenv whose path has none")
    return sys.prefix
