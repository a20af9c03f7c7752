"""`swarmdeploy export terraform`: the alb target's module as rendered, an example root module including it and
a terraform.tfvars.json from the profile. The export passes what the alb target passes (python-hcl2,
`terraform fmt`, checkov, an offline init/validate/plan with the provider mirror); the plan refuses every
placeholder the profile cannot fill, and with them filled carries the profile's hosts and settings."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alb_support import ALB_FAKE_ENVIRONMENT, ALB_PROFILES, PROVIDER, TerraformRoot, provider_mirror
from conftest import EXAMPLE_PROFILES
from test_alb import CHECKOV_SKIP, assert_plan_carries, checkov, named, parse_module, require_terraform

from swarmdeploy.export.terraform import PLACEHOLDERS
from swarmdeploy.profile import load_profile

integration = pytest.mark.integration
SWARMDEPLOY = str(Path(sys.executable).parent / "swarmdeploy")
ROOT_FILES = ["main.tf", "outputs.tf", "variables.tf", "versions.tf"]


def export(profile: Path, workdir: Path) -> Path:
    destination = workdir / "export"
    result = subprocess.run([SWARMDEPLOY, "export", "terraform", str(profile), "-o", str(destination)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return destination


@pytest.fixture(params=ALB_PROFILES, ids=lambda p: p.stem)
def exported(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path]:
    """(profile, its terraform export)."""
    return request.param, export(request.param, tmp_path)


def test_the_module_is_the_rendered_alb_module(exported: tuple[Path, Path], tmp_path: Path) -> None:
    profile, directory = exported
    rendered = tmp_path / "render"
    result = subprocess.run([SWARMDEPLOY, "render", str(profile), "-o", str(rendered), "-t", "alb"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    module = {p.name: p.read_bytes() for p in (directory / "alb").iterdir()}
    assert module == {p.name: p.read_bytes() for p in (rendered / "alb" / "terraform").iterdir()}


def test_python_hcl2_parses_the_root_module_and_it_passes_every_module_variable(exported: tuple[Path, Path]) -> None:
    _, directory = exported
    root = parse_module(directory)
    assert sorted(root) == ROOT_FILES
    variables = named(root["variables.tf"], "variable")
    assert all(body.get("description") and body.get("type") for body in variables.values())
    module_variables = set(named(parse_module(directory / "alb")["variables.tf"], "variable"))
    [call] = [body for entry in root["main.tf"]["module"] for name, body in entry.items() if name == "alb"]
    assert call["source"] == "./alb"
    # Every module variable but access_logs_prefix (its default is the profile's name) is passed from var.<same>.
    assert {key: value for key, value in call.items() if key != "source"} == {
        name: f"${{var.{name}}}" for name in module_variables - {"access_logs_prefix"}}
    assert set(variables) == module_variables - {"access_logs_prefix"} | {"region"}
    outputs = named(root["outputs.tf"], "output")
    assert {"dns_name", "zone_id"} <= set(outputs) and all(body.get("description") for body in outputs.values())


def test_tfvars_hold_the_hosts_and_a_placeholder_for_everything_else(exported: tuple[Path, Path]) -> None:
    profile, directory = exported
    values = json.loads((directory / "terraform.tfvars.json").read_text())
    hosts = [host["address"] for host in load_profile(profile).model["load_balancer"]["hosts"]]
    if hosts:
        assert (values.pop("target_type"), values.pop("target_ids")) == ("ip", hosts)
    else:  # registered by an Auto Scaling group through target_group_arn
        assert values.pop("target_ids") == [] and "target_type" not in values
    assert values == PLACEHOLDERS
    assert all("REPLACE-ME" in json.dumps(value) for value in values.values())


def test_a_profile_without_an_alb_is_refused(tmp_path: Path) -> None:
    others = [p for p in EXAMPLE_PROFILES if p not in ALB_PROFILES]
    result = subprocess.run([SWARMDEPLOY, "export", "terraform", str(others[0]), "-o", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "load_balancer.kind: alb" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


@integration
def test_terraform_fmt_accepts_the_export(exported: tuple[Path, Path]) -> None:
    _, directory = exported
    result = subprocess.run([require_terraform(), "fmt", "-check", "-recursive", "-diff", "-no-color", str(directory)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@integration
def test_checkov_finds_nothing_unexplained_in_the_export(exported: tuple[Path, Path]) -> None:
    _, directory = exported
    report = checkov(directory)  # the root module and, through it, ./alb
    assert [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]] == []
    inline = dict(CHECKOV_SKIP.findall("".join(p.read_text() for p in directory.rglob("*.tf"))))
    assert {c["check_id"] for c in report["results"]["skipped_checks"]} == set(inline)


# --- offline init, validate and plan -----------------------------------------------------------------------------

@pytest.fixture
def terraform(exported: tuple[Path, Path], tmp_path: Path) -> tuple[Path, TerraformRoot]:
    """The export, as a user would apply it, initialised offline: the provider from the mirror, with fake
    credentials and no calls to AWS merged in by an override file."""
    binary, mirror = require_terraform(), provider_mirror()
    if mirror is None:
        pytest.skip("no filesystem mirror with hashicorp/aws (a registry.terraform.io folder) on this machine")
    profile, directory = exported
    (tmp_path / "apply").mkdir()
    root = TerraformRoot(binary, tmp_path / "apply" / "root")
    shutil.copytree(directory, root.directory)
    (root.directory / "offline_override.tf").write_text(PROVIDER)
    initialised = root.run("init", "-input=false")
    assert initialised.returncode == 0, initialised.stdout + initialised.stderr
    validated = root.run("validate")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    return profile, root


def _said(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join((result.stdout + result.stderr).replace("│", " ").split())


@integration
def test_the_plan_refuses_every_placeholder(terraform: tuple[Path, TerraformRoot]) -> None:
    _, root = terraform
    result = root.run("plan", "-refresh=false", "-input=false")
    said = _said(result)
    assert result.returncode != 0 and said.count("Error: Invalid value for variable") == len(PLACEHOLDERS), said
    for variable in PLACEHOLDERS:
        assert f"var.{variable} is" in said, (variable, said)


def filled(values: dict[str, Any]) -> dict[str, Any]:
    """The export's values with every placeholder replaced by a well-formed fake AWS value."""
    fakes = {"region": "eu-west-1", **{key: ALB_FAKE_ENVIRONMENT[key] for key in PLACEHOLDERS if key != "region"}}
    return {**values, **fakes}


@integration
def test_with_the_placeholders_filled_the_plan_carries_the_profile(terraform: tuple[Path, TerraformRoot]) -> None:
    profile, root = terraform
    tfvars = root.directory / "terraform.tfvars.json"
    tfvars.write_text(json.dumps(filled(json.loads(tfvars.read_text()))))
    plan = root.plan()
    model = load_profile(profile).model
    assert_plan_carries(plan, model["load_balancer"])
    attachments = {a: v for a, v in plan.items() if a.startswith("module.alb.aws_lb_target_group_attachment.")}
    hosts = [host["address"] for host in model["load_balancer"]["hosts"]]
    assert sorted(v["target_id"] for v in attachments.values()) == sorted(hosts)
