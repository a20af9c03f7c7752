"""The commands a user types: render, validate, schema, init, vars."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from conftest import EXAMPLE_PROFILES, PROFILES
from swarmdeploy.bundle import sha256
from swarmdeploy.cli import main
from swarmdeploy.errors import OutputError
from swarmdeploy.profile import load_profile

PROD = PROFILES / "prod.yaml"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_render_writes_bundle_with_manifest_and_says_where(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    code, stdout, _ = run("render", str(PROD), "-o", str(out))
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(manifest["files"]) == files
    for relative, digest in manifest["files"].items():
        assert sha256((out / relative).read_bytes()) == digest
        assert str(out / relative) in stdout
    assert manifest["model"] == load_profile(PROD).model
    assert manifest["swarmdeploy_version"]


def test_render_default_output_dir_comes_from_profile_file_name(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, stdout, _ = run("render", str(PROD))
    assert code == 0 and (tmp_path / "build" / "prod" / "manifest.json").is_file(), stdout


def test_render_only_chosen_targets(tmp_path: Path) -> None:
    code, _, _ = run("render", str(PROD), "-o", str(tmp_path / "b"), "--target", "nginx")
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["manifest.json", "nginx"]


def test_render_replaces_an_earlier_bundle(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    run("render", str(PROD), "-o", str(out))
    code, _, _ = run("render", str(PROD), "-o", str(out), "--target", "systemd")
    assert code == 0
    assert not (out / "nginx").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".bundle.lock", "bundle"], "temporaries were left behind"


def test_render_refuses_a_directory_that_is_not_a_bundle(tmp_path: Path) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code, _, stderr = run("render", str(PROD), "-o", str(out))
    assert code == 2 and "--force" in stderr and "not a swarmdeploy bundle" in stderr
    assert (out / "notes.txt").read_text() == "keep me"
    code, _, _ = run("render", str(PROD), "-o", str(out), "--force")
    assert code == 0 and not (out / "notes.txt").exists()


def test_invalid_profile_writes_nothing_and_keeps_the_old_bundle(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    run("render", str(PROD), "-o", str(out))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    broken = tmp_path / "broken.yaml"
    broken.write_text(PROD.read_text().replace("ping_timeout: 20", "ping_timeout: 20000"))
    code, _, stderr = run("render", str(broken), "-o", str(out))
    assert code == 2
    assert f"{broken}:" in stderr and "socketio.ping_timeout" in stderr and "fix:" in stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_failed_write_leaves_the_old_bundle_in_place(tmp_path: Path, monkeypatch) -> None:
    from swarmdeploy import bundle

    out = tmp_path / "bundle"
    run("render", str(PROD), "-o", str(out))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def disk_full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bundle, "_swap", disk_full)
    with pytest.raises(OutputError, match=f"cannot write {out}: No space left on device; choose another directory"):
        bundle.write_bundle(out, {"nginx/x.conf": "x"}, {"files": {}})
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".bundle.lock", "bundle"]


def test_validate_reports_every_profile_and_exits_2_on_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(PROD.read_text().replace("instances: 2", "instances: 0").replace("base_port: 8050", "base_prot: 8050"))
    code, stdout, stderr = run("validate", str(PROD), str(broken))
    assert code == 2
    assert f"{PROD}: valid" in stdout and f"{broken}: 2 error(s)" in stdout
    assert "server.instances" in stderr and "did you mean 'base_port'?" in stderr


def test_validate_exits_0_with_warnings_only(tmp_path: Path) -> None:
    modern = tmp_path / "modern.yaml"
    modern.write_text(PROD.read_text().replace("profile: intermediate ", "profile: modern "))
    code, stdout, stderr = run("validate", str(modern))
    assert code == 0 and "1 warning(s)" in stdout and "tls.modern-ecdsa" in stderr


def test_schema_is_draft_2020_12_and_accepts_the_example_profiles() -> None:
    code, stdout, _ = run("schema")
    schema = json.loads(stdout)
    assert code == 0 and schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    for profile in EXAMPLE_PROFILES:
        assert list(Draft202012Validator(schema).iter_errors(yaml.safe_load(profile.read_text()))) == []


def test_init_writes_a_starter_that_validates_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "swarmdeploy.yaml"
    assert run("init", str(target))[0] == 0
    assert "yaml-language-server: $schema=" in target.read_text()
    assert run("validate", str(target))[0] == 0
    target.write_text("mine")
    code, _, stderr = run("init", str(target))
    assert code == 2 and "--force" in stderr and target.read_text() == "mine"


@pytest.mark.parametrize("output_format", ["json", "yaml"])
def test_vars_prints_exactly_what_templates_receive(output_format: str) -> None:
    code, stdout, _ = run("vars", str(PROD), "--format", output_format)
    printed = json.loads(stdout) if output_format == "json" else yaml.safe_load(stdout)
    assert code == 0 and printed == {"sd": load_profile(PROD).model}
