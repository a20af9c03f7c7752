"""profile.yaml, model.json and environment.txt: what the deployment was asked to be, and what its instances
were given. Secret-named values are redacted; of the secrets file, only the names it defines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from swarmdeploy.diagnose.context import Context
from swarmdeploy.diagnose.part import Collected
from swarmdeploy.diagnose.secret_sources import process_environment
from swarmdeploy.server.config import parse_env_file
from swarmdeploy.yaml_source import load_yaml

SERVER_VARIABLES = "SWARMDEPLOY_"  # the prefix of every variable the bundled server reads


def collect(ctx: Context) -> Collected:
    files = {}
    if ctx.profile:
        document, _ = load_yaml(ctx.profile)  # already valid: load_profile read it for the context
        files["profile.yaml"] = (f"# {ctx.profile}, secrets redacted\n"
                                 + yaml.safe_dump(ctx.scrub.mapping(document.data), sort_keys=False))
    if ctx.model:
        which = f"release {ctx.release.id}" if ctx.release else "the profile, not deployed"
        files["model.json"] = json.dumps({"from": which, "model": ctx.scrub.mapping(ctx.model)}, indent=2) + "\n"
        files["environment.txt"] = _environment(ctx)
    return Collected(files)


def _environment(ctx: Context) -> str:
    model = ctx.model
    lines = []
    env_file = (ctx.layout.current / "systemd" / f"{model['name']}.env") if ctx.release else None
    if env_file and env_file.exists():
        lines += [f"# {env_file} (the release's environment file)",
                  *_lines(ctx.scrub.environment(parse_env_file(env_file.read_text()))), ""]
    lines += [_secrets_file(Path(model["server"]["secrets_file"])), ""]
    named = {model["server"][key] for key in ("auth_token_env", "publish_token_env") if model["server"][key]}
    for service, pid in ctx.running_pids.items():
        if not service.startswith("instance-"):
            continue
        given = {k: v for k, v in process_environment(pid).items() if k.startswith(SERVER_VARIABLES) or k in named}
        lines += [(f"# {service} (pid {pid}) as it runs: its {SERVER_VARIABLES}* variables and those the profile "
                  "names"), *_lines(ctx.scrub.environment(given)), ""]
    return "\n".join(lines)


def _secrets_file(path: Path) -> str:
    try:
        names = sorted(parse_env_file(path.read_text()))
    except FileNotFoundError:
        return f"# secrets file {path}: missing (optional: the instances get no tokens from it)"
    except OSError as error:
        return f"# secrets file {path}: cannot be read ({error.strerror})"
    return f"# secrets file {path}: defines {', '.join(names) or 'nothing'} (values never included)"


def _lines(environment: dict[str, Any]) -> list[str]:
    return [f"{name}={value}" for name, value in sorted(environment.items())]
