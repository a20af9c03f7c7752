"""`swarmdeploy serve`: run one instance in the foreground exactly as its systemd unit does.

Same gunicorn arguments (the model's `server.gunicorn_args`), same bind, same variables (the
rendered environment file plus SWARMDEPLOY_PORT); only gunicorn comes from this Python's venv
instead of `server.venv`, since serve runs where swarmdeploy is installed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from swarmdeploy.errors import SwarmdeployError, UsageError
from swarmdeploy.server.config import PORT_VARIABLE, env_from_model


def instance_command(model: dict[str, Any], instance: int, gunicorn: str | None = None) -> tuple[list[str], dict[str, str]]:
    """gunicorn's argv and the variables to add to the environment for instance `instance`."""
    server = model["server"]
    if not 0 <= instance < server["instances"]:
        raise UsageError(
            f"instance {instance} does not exist: the profile has server.instances: {server['instances']} "
            f"(choose 0-{server['instances'] - 1})"
        )
    port = server["ports"][instance]
    executable = gunicorn or str(Path(sys.executable).parent / "gunicorn")
    argv = [executable, "--bind", f"{server['bind_host']}:{port}", *server["gunicorn_args"]]
    return argv, {**env_from_model(model), PORT_VARIABLE: str(port)}


def serve(profile_path: Path, instance: int = 0) -> NoReturn:
    from swarmdeploy.profile import load_profile

    argv, variables = instance_command(load_profile(profile_path).model, instance)
    if not Path(argv[0]).exists():
        raise SwarmdeployError(f"{argv[0]} is missing: install the server extra (pip install 'swarmdeploy[server]')")
    sys.stdout.flush()
    # exec, not a child: signals and the exit status are gunicorn's, as under systemd.
    os.execve(argv[0], argv, {**os.environ, **variables})
