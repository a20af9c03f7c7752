"""Acceptance test over the profile corpora in tests/profiles/valid and tests/profiles/invalid.

Each corpus file states what it must produce in comment lines at its top:

    # expect: RULE_ID LINE FIELD.PATH        an error finding (invalid files; "(profile)" = no field)
    # expect-warning: RULE_ID                a warning finding (any file; one line per warning)
    # expect-fix-contains: TEXT              some error finding's fix contains TEXT
    # expect-fix-excludes: TEXT              no finding's fix contains TEXT
    # expect-message-contains: TEXT          some error finding's message contains TEXT
    # known-bug: DESCRIPTION                 the file shows a bug in swarmdeploy: strict xfail

A valid file must give no errors and exactly its warnings; an invalid file exactly its
(rule, line, field) errors. A known-bug file states the correct behaviour and runs as a strict
xfail: when the bug is fixed its test XPASSes, which fails the run until the known-bug line is
removed. Line numbers count the header lines too (they are the lines `swarmdeploy validate` prints).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import require_tool
from swarmdeploy.findings import Finding
from swarmdeploy.profile import check_profile, load_profile
from swarmdeploy.rules import RULES
from swarmdeploy.yaml_source import LOADER_RULES

CORPUS = Path(__file__).resolve().parent / "profiles"
VALID = sorted((CORPUS / "valid").glob("*.yaml"))
INVALID = sorted((CORPUS / "invalid").glob("*.yaml"))

# Every error category the corpus must show besides the cross-field rules.
SCHEMA_AND_YAML_RULES = {
    "yaml.syntax", "yaml.duplicate-key", "schema.unknown-key", "schema.type",
    "schema.range", "schema.enum", "schema.required", "schema.pattern",
}
# Every hop timeout.below-ping guards: nginx read/send, HAProxy tunnel/client/server, ALB idle.
TIMEOUT_HOPS = {
    "proxy.read_timeout", "proxy.send_timeout", "load_balancer.timeout_tunnel",
    "load_balancer.timeout_client", "load_balancer.timeout_server", "load_balancer.idle_timeout",
}

_DIRECTIVE = re.compile(r"^#\s*(?P<name>expect[\w-]*|known-bug)\s*:\s*(?P<value>.*?)\s*$")


@dataclass
class Expectations:
    errors: set[tuple[str, int, str]] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    fix_contains: list[str] = field(default_factory=list)
    fix_excludes: list[str] = field(default_factory=list)
    message_contains: list[str] = field(default_factory=list)
    known_bug: str | None = None


def expectations(path: Path) -> Expectations:
    """The directives in the file's leading comment block."""
    found = Expectations()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        match = _DIRECTIVE.match(line)
        if not match:
            continue
        name, text = match["name"], match["value"]
        if name == "expect":
            parts = text.split()
            assert len(parts) == 3 and parts[1].isdigit(), f"{path.name}: malformed expect line {line!r}"
            rule_id, line_number, field_path = parts
            found.errors.add((rule_id, int(line_number), "" if field_path == "(profile)" else field_path))
        elif name == "expect-warning":
            assert re.fullmatch(r"[a-z]+\.[a-z-]+", text), f"{path.name}: malformed {line!r}"
            found.warnings.append(text)
        elif name == "expect-fix-contains":
            found.fix_contains.append(text)
        elif name == "expect-fix-excludes":
            found.fix_excludes.append(text)
        elif name == "expect-message-contains":
            found.message_contains.append(text)
        elif name == "known-bug":
            found.known_bug = text
        else:
            pytest.fail(f"{path.name}: unknown directive {line!r}")
    return found


def _params(paths: list[Path]) -> list:
    params = []
    for path in paths:
        bug = expectations(path).known_bug
        marks = [pytest.mark.xfail(reason=f"known bug: {bug}", strict=True)] if bug else []
        params.append(pytest.param(path, id=path.name, marks=marks))
    return params


def _listing(findings: list[Finding]) -> str:
    return "\n".join(f.format() for f in findings) or "(no findings)"


def _assert_well_formed(path: Path, finding: Finding) -> None:
    """FILE:LINE:COL field: message, then a fix line, at a position that exists in the file."""
    first, _, second = finding.format().partition("\n")
    field_label = finding.path or "(profile)"
    assert finding.file == str(path)
    assert first.startswith(f"{path}:{finding.line}:{finding.column} {field_label}: "), first
    assert finding.message and first.endswith(f"[{finding.rule}]"), first
    assert second.startswith("  fix: ") and second.removeprefix("  fix: ").strip(), second
    lines = path.read_text(encoding="utf-8").splitlines() or [""]
    assert 1 <= finding.line <= len(lines), f"line {finding.line} is outside the file: {first}"
    assert 1 <= finding.column <= len(lines[finding.line - 1]) + 1, f"column outside line: {first}"


def _check_texts(expected: Expectations, findings: list[Finding]) -> None:
    errors = [f for f in findings if f.severity == "error"]
    for text in expected.fix_contains:
        assert any(text in f.fix for f in errors), f"no fix contains {text!r}:\n{_listing(findings)}"
    for text in expected.fix_excludes:
        assert not any(text in f.fix for f in findings), f"a fix contains {text!r}:\n{_listing(findings)}"
    for text in expected.message_contains:
        assert any(text in f.message for f in errors), f"no message contains {text!r}:\n{_listing(findings)}"


@pytest.mark.parametrize("path", _params(VALID))
def test_valid_profile(path: Path) -> None:
    expected = expectations(path)
    assert not expected.errors, "a valid profile must not carry '# expect:' lines"
    _, findings = check_profile(path)
    assert [f for f in findings if f.severity == "error"] == [], _listing(findings)
    warnings = [f for f in findings if f.severity == "warning"]
    assert Counter(f.rule for f in warnings) == Counter(expected.warnings), _listing(findings)
    for warning in warnings:
        _assert_well_formed(path, warning)
        assert f": warning: {warning.message}" in warning.format()
    _check_texts(expected, findings)
    # A valid profile also resolves into the model the renderers receive.
    profile = load_profile(path)
    assert Counter(f.rule for f in profile.warnings) == Counter(expected.warnings)


@pytest.mark.parametrize("path", _params(INVALID))
def test_invalid_profile(path: Path) -> None:
    expected = expectations(path)
    assert expected.errors, "an invalid profile needs at least one '# expect:' line"
    _, findings = check_profile(path)
    errors = [f for f in findings if f.severity == "error"]
    assert {(f.rule, f.line, f.path) for f in errors} == expected.errors, _listing(findings)
    warnings = [f for f in findings if f.severity == "warning"]
    assert Counter(f.rule for f in warnings) == Counter(expected.warnings), _listing(findings)
    assert findings == sorted(findings, key=lambda f: (f.line, f.column)), "findings are not in file order"
    for finding in findings:
        _assert_well_formed(path, finding)
    _check_texts(expected, findings)


def _cli() -> str:
    """The console script of the interpreter running the tests (the project's venv)."""
    script = Path(sys.executable).parent / "swarmdeploy"
    return str(script) if script.is_file() else require_tool("swarmdeploy")


def test_cli_render_refuses_an_invalid_profile_and_writes_nothing(tmp_path: Path) -> None:
    profile = CORPUS / "invalid" / "timeout-nginx-read.yaml"
    output = tmp_path / "bundle"
    result = subprocess.run([_cli(), "render", str(profile), "-o", str(output)],
                            capture_output=True, text=True, timeout=120)
    text = result.stdout + result.stderr
    assert result.returncode == 2, text
    # `  read_timeout: 45` on line 12: the value starts in column 17.
    assert f"{profile}:12:17 proxy.read_timeout: " in text, text
    assert "[timeout.below-ping]" in text and "\n  fix: " in text, text
    assert "nothing was written" in text, text
    assert "Traceback" not in text, text
    assert not output.exists()
    assert list(tmp_path.iterdir()) == [], "render left files behind"


def test_cli_validate_reports_every_invalid_file() -> None:
    # Known-bug files may pass today; the others must each be refused, in one run.
    refused = [path for path in INVALID if not expectations(path).known_bug]
    result = subprocess.run([_cli(), "validate", *map(str, refused)], capture_output=True, text=True, timeout=300)
    text = result.stdout + result.stderr
    assert result.returncode == 2, text
    assert "Traceback" not in text, text
    for path in refused:
        assert re.search(rf"^{re.escape(str(path))}: \d+ error\(s\)", text, re.MULTILINE), f"{path.name} not refused"


def test_cli_validate_accepts_every_valid_file() -> None:
    result = subprocess.run([_cli(), "validate", *map(str, VALID)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for path in VALID:
        assert f"{path}: valid" in result.stdout


# The meta-tests below count only files that do not document a known bug: a rule is covered
# when the corpus shows it working.

def _working(paths: list[Path]) -> list[Expectations]:
    return [e for e in map(expectations, paths) if not e.known_bug]


def test_corpus_sizes() -> None:
    assert len(INVALID) >= 25
    assert len(VALID) >= 8


def test_every_error_rule_is_exercised_by_an_invalid_profile() -> None:
    covered = {rule_id for e in _working(INVALID) for rule_id, _, _ in e.errors}
    error_rules = {r.id for r in RULES if r.severity == "error"}
    assert error_rules - covered == set()
    assert SCHEMA_AND_YAML_RULES - covered == set()


def test_every_timeout_hop_is_exercised() -> None:
    hops = {path for e in _working(INVALID) for rule_id, _, path in e.errors if rule_id == "timeout.below-ping"}
    assert TIMEOUT_HOPS - hops == set()


def test_every_warning_rule_is_exercised_by_a_valid_profile() -> None:
    covered = {rule_id for e in _working(VALID) for rule_id in e.warnings}
    assert {r.id for r in RULES if r.severity == "warning"} - covered == set()


def test_expectations_name_known_rules() -> None:
    known = {r.id for r in RULES} | SCHEMA_AND_YAML_RULES | {"schema.items"} | set(LOADER_RULES)
    for path in VALID + INVALID:
        e = expectations(path)
        named = {rule_id for rule_id, _, _ in e.errors} | set(e.warnings)
        assert named <= known, f"{path.name}: unknown rule ids {named - known}"
