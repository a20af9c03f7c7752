"""Hostile profiles: whatever a file holds, the loader answers with findings (FILE:LINE:COL, a fix,
exactly two lines each), never with a traceback, a hang or a memory blow-up.

Inputs a text corpus file can hold are in tests/profiles/invalid/yaml-*.yaml; here are those it
cannot (bytes that are not UTF-8, FIFOs, devices, huge files, names with control characters), and
what spans the command line (several files, one of them broken).
"""

from __future__ import annotations

import codecs
import importlib.util
import math
import os
import re
import resource
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from click.testing import CliRunner
from conftest import REPO, require_tool

from swarmdeploy import yaml_source
from swarmdeploy.cli import main
from swarmdeploy.findings import Finding
from swarmdeploy.limits import MAX_DEPTH, MAX_FILE_BYTES
from swarmdeploy.profile import check_profile
from swarmdeploy.yaml_source import LOADER_RULES, load_yaml

INVALID = REPO / "tests" / "profiles" / "invalid"
MINIMAL = (REPO / "tests" / "profiles" / "valid" / "minimal.yaml").read_bytes()
# Control characters a terminal acts on: none may appear in output but the newline ending each line.
_RAW_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("profile_limits", REPO / "benchmarks" / "profile_limits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The benchmark's cases (1 MB, 5,000 items, alias bomb, nesting): timed there, loosely bounded here.
LIMIT_CASES = _load_benchmark().CASES


def _two_lines(finding: Finding) -> None:
    first, second = finding.format().split("\n")
    assert first.endswith(f"[{finding.rule}]") and second.startswith("  fix: ") and finding.fix, finding.format()
    assert not _RAW_CONTROL.search(first + second), repr(finding.format())


def _only(path: Path) -> Finding:
    _, findings = check_profile(path)
    assert len(findings) == 1, "\n".join(f.format() for f in findings)
    _two_lines(findings[0])
    return findings[0]


def _limited_memory() -> None:
    """At most 2 GiB for a child process: a regression fails the test instead of eating the machine."""
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def _validate(*paths: Path | str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "swarmdeploy"
    command = str(script) if script.is_file() else require_tool("swarmdeploy")
    return subprocess.run([command, "validate", *map(str, paths)], capture_output=True, text=True, timeout=timeout,
                          preexec_fn=_limited_memory, check=False)


# --- Bytes that are not UTF-8 text -----------------------------------------------------------------

@pytest.mark.parametrize(("data", "line", "column", "says"), [
    pytest.param(b"name: dash\nsite: caf\xe9\n", 2, 10, "byte 0xe9", id="latin-1"),
    pytest.param(b"name: \xed\xa0\x80\n", 1, 7, "byte 0xed", id="utf-8-encoded-surrogate"),
    pytest.param("name: dash\n".encode("utf-16"), 1, 1, "UTF-16", id="utf-16-bom"),
    pytest.param("name: dash\n".encode("utf-16-be"), 1, 1, "UTF-16", id="utf-16-be-no-bom"),
    pytest.param("name: dash\n".encode("utf-32"), 1, 1, "UTF-32", id="utf-32"),
    pytest.param(b"name: dash\nsite: a\x00b\n", 2, 8, "U+0000", id="nul"),
    pytest.param(b"name: \x1b[2Jdash\n", 1, 7, "U+001B", id="escape"),
    pytest.param("name: a\x9bb\n".encode(), 1, 8, "U+009B", id="c1-control"),
    pytest.param(b"a: 1\rb: \x07\n", 2, 4, "U+0007", id="after-a-lone-cr"),
])
def test_bytes_that_are_not_utf8_text_are_a_finding(tmp_path: Path, data: bytes, line: int, column: int,
                                                    says: str) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_bytes(data)
    finding = _only(profile)
    assert (finding.rule, finding.line, finding.column) == ("yaml.encoding", line, column), finding.format()
    assert says in finding.message


def test_a_utf8_byte_order_mark_is_read(tmp_path: Path) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_bytes(codecs.BOM_UTF8 + MINIMAL)
    assert check_profile(profile)[1] == []


# --- Files that are not a profile -------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_fifo_or_a_device_is_refused_without_blocking(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "profile.yaml"
    if kind == "fifo":
        os.mkfifo(path)  # nobody writes to it: opening it the usual way waits forever
    else:
        path = Path("/dev/zero")  # reading it never ends
    result = _validate(path, timeout=20)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{path}:1:1 (profile): " in result.stderr and "[yaml.file]" in result.stderr, result.stderr


def test_one_bad_file_never_hides_the_reports_of_the_others(tmp_path: Path) -> None:
    fifo, broken, good = tmp_path / "fifo.yaml", tmp_path / "broken.yaml", tmp_path / "good.yaml"
    os.mkfifo(fifo)
    broken.write_bytes(b"name: [unclosed\n")
    good.write_bytes(MINIMAL)
    paths = [tmp_path / "missing.yaml", tmp_path, fifo, broken, good]
    result = _validate(*paths)
    assert result.returncode == 2, result.stdout + result.stderr
    for path in paths[:-1]:
        assert f"{path}: 1 error(s)" in result.stdout, result.stdout + result.stderr
    assert f"{good}: valid" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_bug_on_one_file_is_shown_and_the_others_are_still_checked(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from swarmdeploy.cli import profile_commands

    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    for path in (first, second):
        path.write_bytes(MINIMAL)

    def check_with_a_bug(path: Path) -> tuple[object, list[Finding]]:
        if path == first:
            raise RuntimeError("a bug in a rule")
        return check_profile(path)

    monkeypatch.setattr(profile_commands, "check_profile", check_with_a_bug)
    result = CliRunner().invoke(main, ["validate", str(first), str(second)])
    assert result.exit_code == 1, result.output
    assert "Traceback" in result.stderr and "RuntimeError: a bug in a rule" in result.stderr
    assert f"{second}: valid" in result.stdout


# --- Size and shape limits ----------------------------------------------------------------------------

def test_a_file_past_the_size_limit_is_refused_and_one_at_it_is_read(tmp_path: Path) -> None:
    at_limit = tmp_path / "at-limit.yaml"
    at_limit.write_bytes(MINIMAL + b"#" * (MAX_FILE_BYTES - len(MINIMAL) - 1) + b"\n")
    assert at_limit.stat().st_size == MAX_FILE_BYTES
    assert check_profile(at_limit)[1] == []
    past = tmp_path / "past.yaml"
    past.write_bytes(at_limit.read_bytes() + b"\n")
    finding = _only(past)
    assert (finding.rule, finding.line, finding.column) == ("yaml.limit", 1, 1)
    assert f"{MAX_FILE_BYTES:,} bytes" in finding.message


@pytest.mark.parametrize("parser", ["libyaml", "pure-python"])
@pytest.mark.parametrize(("text", "libyaml_stops_first"), [
    pytest.param("- " * 5000 + "x\n", False, id="block-5000"),
    pytest.param("a: " + "{b: " * 5000 + "c" + "}" * 5000 + "\n", True, id="flow-5000"),
    pytest.param("a: " + "[" * MAX_DEPTH + "x" + "]" * MAX_DEPTH + "\n", False, id="flow-one-past-the-limit"),
])
def test_nesting_past_the_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parser: str, text: str,
                                           libyaml_stops_first: bool) -> None:
    if parser == "pure-python":
        monkeypatch.setattr(yaml_source, "_PARSER", yaml.BaseLoader)
    profile = tmp_path / "profile.yaml"
    profile.write_text(text)
    finding = _only(profile)
    assert finding.line == 1, finding.format()
    if libyaml_stops_first and parser == "libyaml":
        # libyaml's scanner reads ahead and stops flow nesting at 1000 levels itself: a syntax error.
        assert finding.rule in ("yaml.limit", "yaml.syntax"), finding.format()
    else:
        assert finding.rule == "yaml.limit" and f"nested more than {MAX_DEPTH}" in finding.message, finding.format()


@pytest.mark.parametrize("name", list(LIMIT_CASES))
def test_the_benchmark_cases_finish_in_seconds(tmp_path: Path, name: str) -> None:
    make, exit_code = LIMIT_CASES[name]
    profile = tmp_path / "profile.yaml"
    profile.write_bytes(make())
    result = _validate(profile, timeout=10)
    assert result.returncode == exit_code, result.stderr[-3000:]
    assert "Traceback" not in result.stderr


# --- YAML 1.2 scalars ---------------------------------------------------------------------------------

def _plain(tmp_path: Path, text: str) -> object:
    profile = tmp_path / "profile.yaml"
    profile.write_text(f"value: {text}\n")
    document, findings = load_yaml(profile)
    assert findings == []
    return document.data["value"]


@pytest.mark.parametrize(("text", "value"), [
    ("1:20", "1:20"), ("01273", "01273"), ("0b101", "0b101"), ("1_000", "1_000"), ("1_000.0", "1_000.0"),
    ("1:20.5", "1:20.5"), ("2023-02-30", "2023-02-30"), ("2023-01-01", "2023-01-01"), ("=", "="), ("! 12", "12"),
    ("0o17", 15), ("1e3", 1000.0), ("1E-2", 0.01),
])
def test_yaml_1_1_scalars_read_as_yaml_1_2_reads_them(tmp_path: Path, text: str, value: object) -> None:
    """Sexagesimal, leading-zero octal, binary, underscores and dates are text (the schema then
    says "not a number"); 0o octal and exponents without a dot are YAML 1.2 numbers."""
    read = _plain(tmp_path, text)
    assert read == value and type(read) is type(value), read


@pytest.mark.parametrize(("text", "value"), [
    ("on", "on"), ("'01273'", "01273"), ("0x1f", 31), ("-0", 0), ("+5", 5), ("8050", 8050), ("1.5", 1.5),
    (".5", 0.5), ("-.inf", -math.inf), ("true", True), ("False", False), ("~", None), ("", None),
])
def test_scalars_both_versions_agree_on_are_read_as_before(tmp_path: Path, text: str, value: object) -> None:
    read = _plain(tmp_path, text)
    assert read == value and type(read) is type(value), read


def test_nan_stays_a_float_for_semantic_validation_to_refuse(tmp_path: Path) -> None:
    assert math.isnan(_plain(tmp_path, ".nan"))


# --- Output that cannot be forged ---------------------------------------------------------------------

_HOSTILE_KEYS = [
    r"x\n/etc/prod.yaml:1:1 name: all good [ok]\n  fix: none",  # a forged finding on a line of its own
    r"\e[2J\e[31mred",  # clears and recolours the terminal
    r"a\u2028b\u2029c",  # Unicode line and paragraph separators
    r"\u202egnp.exe",  # a right-to-left override
    r"\x9b31m\x85\r\t\0",  # C1 controls, carriage return, tab, NUL
]


def test_a_finding_is_exactly_two_lines_whatever_keys_values_and_file_name_hold(tmp_path: Path) -> None:
    keys = "".join(f'"{key}": 1\n' for key in _HOSTILE_KEYS)
    profile = tmp_path / "evil\n\x1b[31m.yaml"
    profile.write_bytes(MINIMAL + keys.encode() + b'environment: "\\e]0;owned\\a"\n')
    result = _validate(profile)
    assert result.returncode == 2, result.stderr
    printed = result.stdout + result.stderr
    assert not _RAW_CONTROL.search(printed), repr(printed)
    findings = result.stderr.splitlines()
    assert len(findings) == 2 * (len(_HOSTILE_KEYS) + 1), result.stderr
    assert all(line.startswith(rf"{tmp_path}/evil\x0a\x1b[31m.yaml:") for line in findings[::2]), result.stderr
    assert all(line.startswith("  fix: ") for line in findings[1::2]), result.stderr
    assert result.stdout.splitlines() == [rf"{tmp_path}/evil\x0a\x1b[31m.yaml: 6 error(s)"]


def test_a_long_value_is_cut_in_the_middle_with_its_length(tmp_path: Path) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_bytes(MINIMAL.replace(b"name: dash", b"name: " + b"A" * 200_000))
    _, findings = check_profile(profile)
    lines = [f.format().split("\n")[0] for f in findings]
    assert findings and all(len(line) < 1000 for line in lines), [len(line) for line in lines]
    assert any("…[cut " in line and " of 200,0" in line for line in lines), lines


# --- The corpus covers every loader rule, with both parsers -------------------------------------------

def _corpus_rules() -> set[str]:
    return {line.split()[2] for path in INVALID.glob("*.yaml")
            for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("# expect: ")}


def test_every_loader_rule_has_an_invalid_corpus_file_or_a_test_here() -> None:
    tested_here = {"yaml.file"}  # FIFOs, devices, directories, missing files: not text files
    assert set(LOADER_RULES) - _corpus_rules() - tested_here == set()


@pytest.mark.parametrize("path", sorted(INVALID.glob("yaml-*.yaml")), ids=lambda p: p.name)
def test_pyyaml_own_parser_gives_the_same_findings_as_libyaml(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Where PyYAML has no libyaml, its own parser runs: same rules, lines and columns."""
    def found() -> list[tuple[str, int, int, str]]:
        return [(f.rule, f.line, f.column, f.path) for f in check_profile(path)[1]]

    with_libyaml = found()
    monkeypatch.setattr(yaml_source, "_PARSER", yaml.BaseLoader)
    assert found() == with_libyaml


@pytest.mark.parametrize("parser", ["libyaml", "pure-python"])
@pytest.mark.parametrize("text", ["a: [# c", "a: {b: [", "name: dash\nsite: [a,"])
def test_a_file_ending_inside_a_construct_without_a_newline_is_pointed_at_its_end(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parser: str, text: str) -> None:
    """libyaml places the end of such a file on a line after the last; the finding stays inside."""
    if parser == "pure-python":
        monkeypatch.setattr(yaml_source, "_PARSER", yaml.BaseLoader)
    profile = tmp_path / "profile.yaml"
    profile.write_text(text)
    finding = _only(profile)
    last = text.split("\n")[-1]
    assert (finding.rule, finding.line, finding.column) == ("yaml.syntax", text.count("\n") + 1, len(last) + 1)

