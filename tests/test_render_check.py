"""`swarmdeploy render --check`: every example profile passes every validator of its targets; a broken
bundle fails with the tool's own words (exit 1, bundle kept); a missing tool is a SKIP that names its
package (exit 0); an invalid profile exits 2 before any check; never a traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import EXAMPLE_PROFILES, PROFILES, require_tool
from test_profile_corpus import CORPUS, _cli

from swarmdeploy.profile import load_profile
from swarmdeploy.render import render_profile
from swarmdeploy.targets import TARGETS, applicable_targets
from swarmdeploy.validators.registry import VALIDATORS
from swarmdeploy.validators.runner import check_bundle
from swarmdeploy.validators.terraform import provider_mirror
from swarmdeploy.verify.result import Status

pytestmark = pytest.mark.integration

# What each target must report, by the names users read.
EXPECTED = {
    "nginx": ["nginx -t"],
    "systemd": ["systemd-analyze verify", "systemd-analyze security"],
    "haproxy": ["haproxy -c"],
    "alb": ["terraform fmt -check", "terraform validate", "cfn-lint"],
    "monitoring": ["promtool check config", "promtool check rules"],
}
# Paths the examples name that no test machine has, so the report must say what stood in for them.
MUST_STAND_IN = {
    "prod": ["tls.certificate", "tls.certificate_key", "server.venv"],
    "haproxy": ["load_balancer.certificate", "load_balancer.backend_ca_file"],
}
PROGRAMS = {validator.name: validator.tool.program for row in VALIDATORS.values() for validator in row}
HAPROXY = PROFILES / "haproxy.yaml"  # renders nginx, systemd and haproxy: every check of it is quick
_ROW = re.compile(r"^(PASS|FAIL|SKIP)  (.+?)  +\w+  ", re.MULTILINE)  # status, validator, target, files


def render_check(profile: Path, output: Path, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path} if path is not None else None
    return subprocess.run([_cli(), "render", str(profile), "-o", str(output), "--check"],
                          capture_output=True, text=True, timeout=300, env=env)


def statuses(stdout: str) -> dict[str, str]:
    """Validator name -> PASS/FAIL/SKIP, from the report's rows."""
    return {name: status for status, name in _ROW.findall(stdout)}


def detail(stdout: str, validator: str) -> str:
    """The indented lines under one validator's row."""
    block = re.search(rf"^\w{{4}}  {re.escape(validator)}  .*\n((?:      .*\n)*)", stdout, re.MULTILINE)
    assert block, stdout
    return block.group(1)


def test_every_target_lists_its_validators() -> None:
    assert set(VALIDATORS) == set(TARGETS), "a target without validators: list them in validators/registry.py"
    assert {target: [v.name for v in row] for target, row in VALIDATORS.items()} == EXPECTED


def assert_every_validator_passes(profile: Path, result: subprocess.CompletedProcess[str]) -> None:
    text = result.stdout + result.stderr
    expected = [name for target in applicable_targets(load_profile(profile).model) for name in EXPECTED[target]]
    for name in expected:
        require_tool(PROGRAMS[name])
    reported = statuses(result.stdout)
    assert list(reported) == expected, text
    for name, status in reported.items():
        # validate needs the AWS provider offline, which no registry serves: optional (FACTS §4b).
        optional = name == "terraform validate" and provider_mirror() is None
        assert status == ("SKIP" if optional else "PASS"), f"{name}:\n{text}"
    assert result.returncode == 0 and "0 failed" in result.stdout and "Traceback" not in text, text
    assert "exposure 1." in detail(result.stdout, "systemd-analyze security"), text


def assert_stand_ins_are_named_and_the_bundle_is_as_rendered(profile: Path, output: Path, stdout: str) -> None:
    """Each stand-in is for a file this machine lacks; the bundle keeps the profile's paths, and holds exactly
    the manifest's files (no pid file, log, .terraform or lock file left by a tool)."""
    written = {str(p.relative_to(output)) for p in output.rglob("*") if p.is_file()}
    assert written == {*json.loads((output / "manifest.json").read_text())["files"], "manifest.json"}
    stood_in = dict(re.findall(r"^  ([a-z_]+\.[a-z_]+) (\S+) -> ", stdout, re.MULTILINE))
    for field in MUST_STAND_IN.get(profile.stem, []):
        assert field in stood_in, stdout
    bundle = "".join(p.read_text() for p in output.rglob("*") if p.is_file())
    needed = {"server.venv": "bin/gunicorn", "proxy.pid_file": None, "proxy.log_dir": None}  # None: written, not read
    for field, path in stood_in.items():
        inside = needed.get(field, "")
        if inside is not None:
            assert not Path(path, inside).exists(), f"{field}: {path} is here, yet a stand-in replaced it"
        assert path in bundle, f"the bundle lost {field} {path}"


# One test per example, not one per assertion: an ALB profile's check takes seconds (terraform validate
# loads the AWS provider's schema), and xdist would run a shared fixture once per worker.
@pytest.mark.parametrize("profile", EXAMPLE_PROFILES, ids=lambda p: p.stem)
def test_example_profile_passes_every_validator_and_names_its_stand_ins(profile: Path, tmp_path: Path) -> None:
    result = render_check(profile, tmp_path / "bundle")
    assert_every_validator_passes(profile, result)
    assert_stand_ins_are_named_and_the_bundle_is_as_rendered(profile, tmp_path / "bundle", result.stdout)


def test_a_file_the_tool_rejects_fails_with_its_message_and_the_bundle_stays(tmp_path: Path) -> None:
    """A certificate path that exists but holds no certificate is validated as it is, not stood in for."""
    require_tool("nginx")
    garbage = tmp_path / "tls"
    garbage.mkdir()
    for name in ("fullchain.pem", "privkey.pem"):
        (garbage / name).write_text("not a PEM file\n")
    data = yaml.safe_load(HAPROXY.read_text())
    data["tls"].update(certificate=str(garbage / "fullchain.pem"), certificate_key=str(garbage / "privkey.pem"))
    profile = tmp_path / "garbage-certificate.yaml"
    profile.write_text(yaml.safe_dump(data))
    output = tmp_path / "bundle"
    result = render_check(profile, output)
    text = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in text, text
    assert statuses(result.stdout)["nginx -t"] == "FAIL", text
    assert "cannot load certificate" in detail(result.stdout, "nginx -t"), text
    assert "tls.certificate " not in result.stdout, "an existing file was stood in for"
    assert f"The bundle in {output}/ stays written" in result.stdout, text
    assert (output / "manifest.json").is_file() and str(garbage) in (output / "nginx" / "swarmbot-ha.conf").read_text()


def test_a_bundle_broken_by_hand_fails_with_the_tools_message(tmp_path: Path) -> None:
    require_tool("haproxy")
    bundle = tmp_path / "bundle"
    render_profile(HAPROXY, bundle)
    config = bundle / "haproxy" / "haproxy.cfg"
    config.write_text(config.read_text().replace("balance roundrobin", "balance sticky-ish"))
    report = check_bundle(bundle)
    failed = [r for r in report.results if r.status is Status.FAIL]
    assert [r.validator for r in failed] == ["haproxy -c"], report
    # HAProxy's own words, naming the file as the bundle does, not by its scratch path.
    assert "haproxy/haproxy.cfg:" in failed[0].detail and "balance only supports" in failed[0].detail, failed[0]
    assert str(tmp_path) not in failed[0].detail and "swarmdeploy-check-" not in failed[0].detail


def test_a_missing_tool_is_a_skip_naming_its_package(tmp_path: Path) -> None:
    """PATH holds every tool but haproxy."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("nginx", "systemd-analyze", "promtool"):
        (bin_dir / program).symlink_to(require_tool(program))
    result = render_check(HAPROXY, tmp_path / "bundle", path=str(bin_dir))
    text = result.stdout + result.stderr
    assert result.returncode == 0 and "Traceback" not in text, text
    assert statuses(result.stdout) == {"nginx -t": "PASS", "systemd-analyze verify": "PASS",
                                       "systemd-analyze security": "PASS", "haproxy -c": "SKIP",
                                       "promtool check config": "PASS", "promtool check rules": "PASS"}, text
    assert "haproxy is not installed: apt-get install haproxy" in detail(result.stdout, "haproxy -c"), text


def test_an_invalid_profile_exits_2_and_checks_nothing(tmp_path: Path) -> None:
    result = render_check(CORPUS / "invalid" / "timeout-nginx-read.yaml", tmp_path / "bundle")
    text = result.stdout + result.stderr
    assert result.returncode == 2 and "nothing was written" in text and "Traceback" not in text, text
    assert "Checked" not in text and not (tmp_path / "bundle").exists()
