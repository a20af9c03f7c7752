"""Terraform on the ALB module: `fmt -check` always; `init -backend=false` and `validate` only where the
AWS provider is available offline, from a filesystem mirror (no registry reachable here serves it)."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

from swarmdeploy.validators.base import Tool, Validator, Verdict, execute
from swarmdeploy.validators.scratch import ScratchCopy
from swarmdeploy.verify.result import Status

TERRAFORM = Tool("terraform", "apt-get install terraform (from HashiCorp's apt repository)")
MODULE = "alb/terraform"
_MIRRORED = """provider_installation {{
  filesystem_mirror {{
    path = "{mirror}"
  }}
  direct {{
    exclude = ["registry.terraform.io/*/*"]
  }}
}}
"""


@functools.cache
def provider_mirror() -> Path | None:
    """The root of a filesystem mirror holding hashicorp/aws on this machine, if there is one."""
    try:
        found = subprocess.run(["find", "/", "-maxdepth", "5", "(", "-path", "/proc", "-o", "-path", "/sys", ")",
                                "-prune", "-o", "-type", "d", "-name", "registry.terraform.io", "-print"],
                               capture_output=True, text=True, errors="replace", timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    registry = next((Path(line) for line in found.stdout.splitlines() if Path(line, "hashicorp", "aws").is_dir()), None)
    return registry.parent if registry else None


def cli_config() -> str:
    """Terraform's CLI configuration: providers from the mirror only, never from a registry."""
    mirror = provider_mirror()
    return _MIRRORED.format(mirror=mirror) if mirror else ""


def _environment(copy: ScratchCopy) -> dict[str, str]:
    """A CLI config of our own (the caller's TF_CLI_CONFIG_FILE may name a missing file, a warning on every
    command), with the mirror when there is one; no calls home."""
    config = copy.runtime / "terraform.rc"
    config.write_text(cli_config())
    return {**os.environ, "TF_CLI_CONFIG_FILE": str(config), "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}


def _fmt(copy: ScratchCopy, program: str) -> Verdict:
    # From the bundle root, so the tool names files as the report does: alb/terraform/main.tf.
    result = execute([program, "fmt", "-check", "-diff", "-no-color", MODULE], cwd=copy.root, env=_environment(copy))
    if result.returncode == 0:
        return Verdict(Status.PASS)
    return Verdict(Status.FAIL, (result.stdout + result.stderr).strip())


def _validate(copy: ScratchCopy, program: str) -> Verdict:
    if not provider_mirror():
        return Verdict(Status.SKIP, "the AWS provider is not available offline: no filesystem mirror "
                                    "(a registry.terraform.io dir holding hashicorp/aws within 5 levels of /)")
    environment = _environment(copy)
    for step in (["init", "-backend=false", "-input=false"], ["validate"]):
        result = execute([program, f"-chdir={copy.path(MODULE)}", *step, "-no-color"], env=environment)
        if result.returncode != 0:
            return Verdict(Status.FAIL, f"terraform {step[0]}: {(result.stderr or result.stdout).strip()}")
    return Verdict(Status.PASS)


FILES = (f"{MODULE}/*.tf",)
FMT_CHECK = Validator("terraform fmt -check", TERRAFORM, FILES, _fmt)
VALIDATE = Validator("terraform validate", TERRAFORM, FILES, _validate)
