"""Helpers of tests/test_alb.py: rendering the alb target, profiles changed on purpose, and an offline
Terraform root module that includes the rendered module."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from conftest import EXAMPLE_PROFILES
from swarmdeploy.profile import load_profile
from swarmdeploy.render import render_files
from swarmdeploy.validators.terraform import cli_config, provider_mirror  # noqa: F401 - tests import it here

ALB_PROFILES = [p for p in EXAMPLE_PROFILES if load_profile(p).model["load_balancer"]["kind"] == "alb"]
ALB_FAKE_ENVIRONMENT = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
    "security_group_ids": ["sg-0123456789abcdef0"],
    "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/01234567-89ab-cdef-0123-456789abcdef",
    "access_logs_bucket": "swarmdeploy-test-logs",
    "target_type": "ip",
    "target_ids": ["10.0.1.11", "10.0.1.12"],
    "web_acl_arn": "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/swarm/01234567-89ab-cdef-0123-456789abcdef",
}
# Offline: fake credentials, and no call that would need AWS (FACTS.md §4b).
PROVIDER = """provider "aws" {
  region                      = "eu-west-1"
  access_key                  = "AKIAIOSFODNN7EXAMPLE"
  secret_key                  = "not-a-real-secret"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}
"""
MODULE_DIR = "alb"  # the rendered module's folder inside the root module


def render_alb(profile: Path, destination: Path) -> Path:
    """The profile's alb target written under destination; returns its alb/ folder."""
    for relative, text in render_files(load_profile(profile).model, ["alb"]).items():
        path = destination / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return destination / "alb"


def changed_profile(profile: Path, destination: Path, changes: dict[str, dict[str, Any]]) -> Path:
    """A copy of the profile with some sections' fields replaced, such as {"load_balancer": {"idle_timeout": 1800}}."""
    data = yaml.safe_load(profile.read_text())
    for section, fields in changes.items():
        data.setdefault(section, {}).update(fields)
    path = destination / profile.name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def root_module(**overrides: Any) -> str:
    """A root module calling the rendered module with fake AWS values (JSON is valid HCL for them)."""
    arguments = {**ALB_FAKE_ENVIRONMENT, **overrides}
    lines = "".join(f"  {key} = {json.dumps(value)}\n" for key, value in arguments.items())
    return f'{PROVIDER}\nmodule "alb" {{\n  source = "./{MODULE_DIR}"\n{lines}}}\n'


class TerraformRoot:
    """A root module directory, initialised once; the rendered module in it is swapped per test (a local
    module is read in place, so swapping it needs no new `terraform init`)."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        config = directory.parent / "terraform.tfrc"
        config.write_text(cli_config())
        # The machine's TF_CLI_CONFIG_FILE names a missing file: this one replaces it.
        self.env = dict(os.environ, TF_CLI_CONFIG_FILE=str(config), TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")

    def use_module(self, rendered_alb: Path, **overrides: Any) -> None:
        shutil.rmtree(self.directory / MODULE_DIR, ignore_errors=True)
        shutil.copytree(rendered_alb / "terraform", self.directory / MODULE_DIR)
        (self.directory / "main.tf").write_text(root_module(**overrides))

    def run(self, command: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.binary, command, "-no-color", *args], cwd=self.directory, env=self.env,
                              capture_output=True, text=True, timeout=300)

    def plan(self) -> dict[str, dict[str, Any]]:
        """Every planned resource's attributes by address, from `terraform show -json` of the saved plan."""
        planned = self.run("plan", "-refresh=false", "-input=false", "-out=plan.bin")
        assert planned.returncode == 0, planned.stdout + planned.stderr
        shown = self.run("show", "-json", "plan.bin")
        assert shown.returncode == 0, shown.stderr
        return {change["address"]: change["change"]["after"] for change in json.loads(shown.stdout)["resource_changes"]}
