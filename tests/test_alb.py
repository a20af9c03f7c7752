"""The alb target, a Terraform module and a CloudFormation template for an AWS Application Load Balancer,
passes the tools that would refuse it: python-hcl2, terraform fmt, checkov, an offline terraform
init/validate/plan, and cfn-lint with swarmdeploy's own ELBv2 rules. The plan proves that each value
Socket.IO depends on (stickiness, idle timeout, TLS policy, health check, redirect, draining) comes
from the profile."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2 import SerializationOptions

from alb_support import ALB_PROFILES, TerraformRoot, changed_profile, provider_mirror, render_alb
from conftest import REPO, require_file
from swarmdeploy.cfn_rules import rules_dir
from swarmdeploy.profile import load_profile

integration = pytest.mark.integration
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"  # its own venv: scripts/setup --test
CHECKOV_SKIP = re.compile(r"#checkov:skip=([A-Z0-9_]+):(.*)$", re.M)
CFN_RULE_IDS = {"E9101", "E9102", "E9103", "E9104", "E9105"}
HCL2_OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


@pytest.fixture(params=ALB_PROFILES, ids=lambda p: p.stem)
def rendered(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path]:
    """(profile, its rendered alb/ folder)."""
    return request.param, render_alb(request.param, tmp_path / "render")


def test_an_example_profile_renders_an_alb() -> None:
    assert ALB_PROFILES, "no example profile has load_balancer.kind: alb"


# --- Terraform: python-hcl2, terraform fmt, checkov ---------------------------------------------------------------

def parse_module(directory: Path) -> dict[str, dict[str, Any]]:
    parsed = {}
    for path in sorted(directory.glob("*.tf")):
        with path.open() as source:
            parsed[path.name] = hcl2.load(source, serialization_options=HCL2_OPTIONS)
    return parsed


def named(document: dict[str, Any], kind: str) -> dict[str, Any]:
    """python-hcl2 gives each variable, output or resource as a one-key mapping in a list."""
    return {name: body for entry in document.get(kind, []) for name, body in entry.items()}


def resources(document: dict[str, Any]) -> dict[str, Any]:
    """Resources by address, such as aws_lb.this (each resource is {type: {name: body}} in the list)."""
    return {f"{kind}.{name}": body for kind, bodies in (next(iter(e.items())) for e in document["resource"])
            for name, body in bodies.items()}


def backend_protocol(balancer: dict[str, Any]) -> str:
    return "HTTPS" if balancer["backend_tls"] else "HTTP"


def test_python_hcl2_parses_the_module(rendered: tuple[Path, Path]) -> None:
    profile, alb = rendered
    balancer = load_profile(profile).model["load_balancer"]
    module = parse_module(alb / "terraform")
    assert sorted(module) == ["main.tf", "outputs.tf", "variables.tf", "versions.tf"]

    terraform = module["versions.tf"]["terraform"][0]
    assert terraform["required_version"] == ">= 1.5"
    assert terraform["required_providers"][0]["aws"] == {"source": "hashicorp/aws", "version": "~> 5.0"}

    variables = named(module["variables.tf"], "variable")
    assert all(body.get("description") and body.get("type") for body in variables.values())
    # Every value AWS limits is validated; internal, a bool, is the only one without a validation block.
    assert {name for name, body in variables.items() if "validation" not in body} == {"internal"}
    outputs = named(module["outputs.tf"], "output")
    assert {"arn", "dns_name", "zone_id", "target_group_arn", "https_listener_arn", "http_listener_arn"} <= set(outputs)
    assert all(body.get("description") for body in outputs.values())

    main = resources(module["main.tf"])
    load_balancer = main["aws_lb.this"]
    assert load_balancer["idle_timeout"] == balancer["idle_timeout"]
    assert load_balancer["enable_http2"] is load_balancer["drop_invalid_header_fields"] is True
    assert load_balancer["enable_deletion_protection"] is load_balancer["access_logs"][0]["enabled"] is True
    target_group = main["aws_lb_target_group.this"]
    assert (target_group["port"], target_group["protocol"]) == (balancer["backend_port"], backend_protocol(balancer))
    assert target_group["deregistration_delay"] == balancer["deregistration_delay"]
    assert main["aws_lb_listener.https"]["ssl_policy"] == balancer["ssl_policy"]


def require_terraform() -> str:
    """The terraform binary; its absence is the one skip allowed under CI (the AWS provider is not in any
    registry this machine reaches, and the binary comes with the machine image)."""
    binary = shutil.which("terraform")
    if not binary:
        pytest.skip("the terraform binary is absent (it comes with the machine image, not scripts/setup)")
    return binary


@integration
def test_terraform_fmt_accepts_the_module(rendered: tuple[Path, Path]) -> None:
    _, alb = rendered
    result = subprocess.run([require_terraform(), "fmt", "-check", "-recursive", "-diff", "-no-color", str(alb)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def checkov_variants() -> list[Any]:
    """Every example profile, and one whose ALB speaks plain HTTP to the hosts (the template's other branch)."""
    variants = [pytest.param(profile, {}, id=profile.stem) for profile in ALB_PROFILES]
    variants.append(pytest.param(ALB_PROFILES[0], {"load_balancer": {"backend_protocol": "http"}},
                                 id=f"{ALB_PROFILES[0].stem}-http-backend"))
    return variants


def checkov(directory: Path) -> dict[str, Any]:
    """checkov's JSON report on a Terraform directory (without --quiet, so it lists skipped checks too)."""
    result = subprocess.run([str(require_file(CHECKOV)), "-d", str(directory), "--framework", "terraform",
                             "--compact", "--skip-download", "--output", "json"],
                            capture_output=True, text=True, timeout=300)
    assert result.stdout.startswith("{"), result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["parsing_errors"] == 0 and report["summary"]["passed"] > 0, report["summary"]
    return report


@integration
@pytest.mark.parametrize(("profile", "changes"), checkov_variants())
def test_checkov_finds_nothing_unexplained(profile: Path, changes: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    module = render_alb(changed_profile(profile, tmp_path, changes) if changes else profile, tmp_path / "render")
    module = module / "terraform"
    report = checkov(module)
    failed = [(c["check_id"], c["check_name"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    inline = dict(CHECKOV_SKIP.findall("".join(p.read_text() for p in module.glob("*.tf"))))
    skipped = {c["check_id"]: c["check_result"]["suppress_comment"] for c in report["results"]["skipped_checks"]}
    assert skipped == inline
    # Without the skip comments, exactly the skipped checks fail: no skip is stale.
    for path in module.glob("*.tf"):
        path.write_text(re.sub(r"^ *#checkov:skip=.*\n", "", path.read_text(), flags=re.M))
    assert {c["check_id"] for c in checkov(module)["results"]["failed_checks"]} == set(inline)


def test_every_checkov_skip_has_a_reason_in_docs() -> None:
    docs = (REPO / "docs" / "alb.md").read_text()
    skips = CHECKOV_SKIP.findall("".join(p.read_text() for p in (REPO / "templates" / "alb").glob("*.tf.j2")))
    assert skips, "no checkov skip found: remove this test's expectation in docs/alb.md too"
    for check, reason in skips:
        assert len(reason.split()) >= 5, f"{check}: the skip needs a real reason"
        assert f"`{check}`" in docs, f"docs/alb.md does not list the checkov skip {check}"


# --- Terraform: offline init, validate and plan ------------------------------------------------------------------

@pytest.fixture(scope="module")
def terraform(tmp_path_factory: pytest.TempPathFactory) -> TerraformRoot:
    """A root module including the rendered module, initialised once from the provider mirror."""
    binary, mirror = require_terraform(), provider_mirror()
    if mirror is None:
        pytest.skip("no filesystem mirror with hashicorp/aws (a registry.terraform.io folder) on this machine")
    base = tmp_path_factory.mktemp("terraform")
    root = TerraformRoot(binary, base / "root")
    root.directory.mkdir()
    root.use_module(render_alb(ALB_PROFILES[0], base / "render"))
    initialised = root.run("init", "-input=false")
    assert initialised.returncode == 0, initialised.stdout + initialised.stderr
    return root


def assert_plan_carries(plan: dict[str, dict[str, Any]], balancer: dict[str, Any]) -> None:
    load_balancer = plan["module.alb.aws_lb.this"]
    assert load_balancer["idle_timeout"] == balancer["idle_timeout"]
    assert load_balancer["access_logs"][0]["enabled"] is True
    target_group = plan["module.alb.aws_lb_target_group.this"]
    assert target_group["stickiness"] == [{"type": "lb_cookie", "cookie_duration": balancer["stickiness_duration"],
                                           "enabled": balancer["stickiness"] == "cookie", "cookie_name": None}]
    assert int(target_group["deregistration_delay"]) == balancer["deregistration_delay"]
    assert (target_group["port"], target_group["protocol"]) == (balancer["backend_port"], backend_protocol(balancer))
    check = target_group["health_check"][0]
    assert (check["path"], check["matcher"], check["interval"]) == (
        balancer["health_check_path"], "200", balancer["health_check_interval"])
    assert check["timeout"] < check["interval"], "AWS refuses a health check timeout that is not below the interval"
    https = plan["module.alb.aws_lb_listener.https"]
    assert (https["port"], https["ssl_policy"]) == (balancer["https_port"], balancer["ssl_policy"])
    [redirect] = plan["module.alb.aws_lb_listener.http"]["default_action"][0]["redirect"]
    assert (redirect["protocol"], redirect["port"], redirect["status_code"]) == (
        "HTTPS", str(balancer["https_port"]), "HTTP_301")


@integration
def test_terraform_validates_and_plans_the_profile(rendered: tuple[Path, Path], terraform: TerraformRoot) -> None:
    profile, alb = rendered
    terraform.use_module(alb)
    validated = terraform.run("validate")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    plan = terraform.plan()
    assert_plan_carries(plan, load_profile(profile).model["load_balancer"])
    assert "module.alb.aws_wafv2_web_acl_association.this[0]" in plan
    assert {a for a in plan if a.startswith("module.alb.aws_lb_target_group_attachment.")} == {
        f'module.alb.aws_lb_target_group_attachment.this["{ip}"]' for ip in ("10.0.1.11", "10.0.1.12")}


@integration
def test_plan_follows_a_changed_profile(terraform: TerraformRoot, tmp_path: Path) -> None:
    """Changed values in the profile reach the plan: nothing in the module holds a number of its own."""
    profile = ALB_PROFILES[0]
    before = load_profile(profile).model["load_balancer"]
    changes = {"idle_timeout": 1800, "stickiness_duration": 3600, "deregistration_delay": 120,
               "health_check_path": "/ready", "health_check_interval": 10,
               "ssl_policy": "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09"}
    changed = changed_profile(profile, tmp_path, {"load_balancer": changes})
    after = load_profile(changed).model["load_balancer"]
    assert all(after[field] == value != before[field] for field, value in changes.items())
    terraform.use_module(render_alb(changed, tmp_path / "render"))
    assert_plan_carries(terraform.plan(), after)


@integration
@pytest.mark.parametrize(("overrides", "refusal"), [
    pytest.param({"subnet_ids": ["subnet-0123456789abcdef0"]}, "at least two Availability Zones", id="one-subnet"),
    pytest.param({"target_type": "instance"}, "must be EC2 instance IDs when target_type is instance",
                 id="ip-targets-as-instances"),
])
def test_module_refuses_what_aws_would(overrides: dict[str, Any], refusal: str, terraform: TerraformRoot,
                                       tmp_path: Path) -> None:
    terraform.use_module(render_alb(ALB_PROFILES[0], tmp_path / "render"), **overrides)
    result = terraform.run("plan", "-refresh=false", "-input=false")
    assert result.returncode != 0 and refusal in " ".join((result.stdout + result.stderr).split())


# --- CloudFormation: cfn-lint with swarmdeploy's rules -----------------------------------------------------------

def cfn_lint(templates: list[Path], with_project_rules: bool = True) -> list[dict[str, Any]]:
    """cfn-lint's findings (errors, warnings) on the templates, with swarmdeploy/cfn_rules appended."""
    rules = ["--append-rules", str(rules_dir())] if with_project_rules else []
    # The rule modules import swarmdeploy: the cfn-lint beside this Python, not another one on PATH.
    linter = require_file(Path(sys.executable).parent / "cfn-lint")
    result = subprocess.run([str(linter), "--format", "json", *rules, "--", *map(str, templates)],
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.startswith("["), result.stderr
    return json.loads(result.stdout)


@integration
def test_cfn_lint_passes_the_template(rendered: tuple[Path, Path]) -> None:
    _, alb = rendered
    assert cfn_lint([alb / "cloudformation.yaml"]) == []


# (id, [(pattern, replacement), ...], rule that must report it, what its message says, cfn-lint alone misses it)
MUTATIONS = [
    ("stickiness-type", [(r"(Key: stickiness\.type\n\s+Value: )\S+", r"\g<1>source_ip")], "E9102",
     "stickiness.type is source_ip", True),
    ("stickiness-duration", [(r'(Key: stickiness\.lb_cookie\.duration_seconds\n\s+Value: )"\d+"', r'\g<1>"604801"')],
     "E9102", "stickiness.lb_cookie.duration_seconds is 604801", True),
    ("deregistration-delay", [(r'(Key: deregistration_delay\.timeout_seconds\n\s+Value: )"\d+"', r'\g<1>"3601"')],
     "E9102", "deregistration_delay.timeout_seconds is 3601", True),
    ("idle-timeout", [(r'(Key: idle_timeout\.timeout_seconds\n\s+Value: )"\d+"', r'\g<1>"4001"')], "E9101",
     "idle_timeout.timeout_seconds is 4001", True),
    ("unknown-attribute", [(r"Key: routing\.http2\.enabled", "Key: routing.http2.enable")], "E9101",
     "routing.http2.enable is not an attribute", True),
    ("ssl-policy", [(r'SslPolicy: "[^"]+"', 'SslPolicy: "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-10"')], "E9103",
     "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-10 is not a predefined", True),
    ("redirect-code", [(r"StatusCode: HTTP_301", "StatusCode: HTTP_308")], "E9104", "HTTP_308", False),
    ("health-check-timeout", [(r"HealthCheckIntervalSeconds: \d+", "HealthCheckIntervalSeconds: 30"),
                              (r"HealthCheckTimeoutSeconds: \d+", "HealthCheckTimeoutSeconds: 30")], "E9105",
     "HealthCheckTimeoutSeconds 30 is not below HealthCheckIntervalSeconds 30", True),
]


@pytest.fixture(scope="module")
def linted_mutants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list[dict], list[dict]]]:
    """Each mutation of a rendered template, linted with and without the project's rules (two runs in all)."""
    base = tmp_path_factory.mktemp("mutants")
    original = (render_alb(ALB_PROFILES[0], base / "render") / "cloudformation.yaml").read_text()
    paths = {}
    for name, substitutions, *_ in MUTATIONS:
        text = original
        for pattern, replacement in substitutions:
            text, count = re.subn(pattern, replacement, text)
            assert count == 1, f"{name}: {pattern} matches {count} times in the rendered template"
        paths[name] = base / f"{name}.yaml"
        paths[name].write_text(text)
    with_rules, without_rules = cfn_lint(list(paths.values())), cfn_lint(list(paths.values()), False)
    return {name: ([m for m in with_rules if m["Filename"] == str(path)],
                   [m for m in without_rules if m["Filename"] == str(path)]) for name, path in paths.items()}


@integration
@pytest.mark.parametrize(("mutation", "rule", "message", "missed_by_cfn_lint"),
                         [pytest.param(name, rule, message, missed, id=name)
                          for name, _, rule, message, missed in MUTATIONS])
def test_project_rules_catch_a_broken_template(mutation: str, rule: str, message: str, missed_by_cfn_lint: bool,
                                               linted_mutants: dict[str, tuple[list[dict], list[dict]]]) -> None:
    with_rules, without_rules = linted_mutants[mutation]
    assert [(m["Rule"]["Id"], m["Level"]) for m in with_rules if m["Rule"]["Id"] in CFN_RULE_IDS] == [(rule, "Error")]
    assert any(message in m["Message"] for m in with_rules), with_rules
    if missed_by_cfn_lint:
        assert without_rules == [], "cfn-lint alone now catches this: the project rule may be redundant"
