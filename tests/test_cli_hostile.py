"""Hostile command lines: a path that cannot be written (real `swarmdeploy` processes, one as the nobody
user), a verify argument that makes no sense, a name that is not deployed (the command in this process,
to keep the many cases fast). Each is one line on stderr naming the path or argument and the fix, with
the exit code README's "Exit codes" gives it; never a traceback, and nothing is written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import PROFILES
from swarmdeploy.cli import main

PROD = str(PROFILES / "prod.yaml")
LOCAL = str(PROFILES / "local.yaml")
SWARMDEPLOY = str(Path(sys.executable).parent / "swarmdeploy")
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def swarmdeploy(*args: str, as_nobody: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*(NOBODY if as_nobody else []), SWARMDEPLOY, *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "COLUMNS": "200"})


def in_process(*args: str) -> subprocess.CompletedProcess[str]:
    """The command as a process would run it; an exception other than its exit is the traceback a user sees."""
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def tree(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


def assert_one_line_error(result: subprocess.CompletedProcess[str], *said: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    for words in said:
        assert words in result.stderr


# -- paths a command cannot write --------------------------------------------------------------------


@pytest.fixture
def world_readable() -> Iterator[Path]:
    """A folder the nobody user can reach (pytest's tmp_path is private to root), with a read-only one in it."""
    folder = Path(tempfile.mkdtemp(prefix="swarmdeploy-hostile-"))
    try:
        folder.chmod(0o755)
        (folder / "read-only").mkdir(mode=0o555)
        yield folder
    finally:
        shutil.rmtree(folder)


def test_render_into_a_folder_it_may_not_write_is_one_line(world_readable: Path) -> None:
    out = world_readable / "read-only" / "bundle"
    result = swarmdeploy("render", PROD, "-o", str(out), as_nobody=os.geteuid() == 0)
    assert_one_line_error(result, f"cannot write {out}", "Permission denied", "choose another directory with -o")
    assert tree(world_readable) == ["read-only"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a state directory only root may read")
def test_deployments_only_root_may_read_are_one_line_for_another_user(world_readable: Path) -> None:
    state = world_readable / "var/lib/swarmdeploy"
    (state / "real/releases").mkdir(parents=True)
    state.chmod(0o700)
    for command in ("status", "stop"):
        result = swarmdeploy(command, "--root", str(world_readable), as_nobody=True)
        assert_one_line_error(result, f"cannot read the deployments in {state}: Permission denied")


@pytest.mark.parametrize(("command", "said"), [
    (["render", PROD, "-o", "{tmp}/a-file/bundle"], "{tmp}/a-file is a file, not a directory"),
    (["render", PROD, "-o", "/proc/swarmdeploy-bundle"], "cannot write /proc/swarmdeploy-bundle"),
    (["render", PROD, "-o", "{tmp}/" + "n" * 300], "its name is 300 bytes long; at most 241"),
    (["render", PROD, "-o", "{tmp}/" + "n" * 250], "its name is 250 bytes long; at most 241"),
    (["init", "{tmp}/missing/swarmdeploy.yaml"], "the folder {tmp}/missing does not exist; create it first"),
    (["init", "/dev/full", "--force"], "cannot write /dev/full: it is not a regular file"),
    (["init", "{tmp}/a-file"], "{tmp}/a-file already exists; pass --force to overwrite it"),
    (["schema", "-o", "{tmp}/missing/schema.json"], "the folder {tmp}/missing does not exist"),
    (["schema", "-o", "/dev/full"], "cannot write /dev/full: it is not a regular file"),
    (["schema", "-o", "{tmp}/" + "n" * 300 + ".json"], "cannot write {tmp}/nnn"),
    (["verify", "--url", "https://127.0.0.1:1", "--junit-xml", "{tmp}/missing/verify.xml"],
     "the folder {tmp}/missing does not exist"),
])
def test_a_path_that_cannot_be_written_is_one_line_and_writes_nothing(tmp_path: Path, command: list[str],
                                                                      said: str) -> None:
    (tmp_path / "a-file").write_text("mine")
    result = swarmdeploy(*(arg.replace("{tmp}", str(tmp_path)) for arg in command))
    assert_one_line_error(result, said.replace("{tmp}", str(tmp_path)))
    assert result.stdout == ""  # verify: refused before any check ran
    assert tree(tmp_path) == ["a-file"] and (tmp_path / "a-file").read_text() == "mine"


# -- verify's arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize(("arguments", "said"), [
    (["--url", "https://h:99999"], "--url: https://h:99999: Port out of range"),
    (["--url", "https://[::1"], "--url: https://[::1: Invalid IPv6 URL"),
    (["--url", "https://h:http"], "Port could not be cast to integer"),
    (["--url", "example.com"], "example.com has no scheme: did you mean https://example.com?"),
    (["--url", "ftp://example.com"], "verify speaks https and http, not ftp"),
    (["--url", "https://"], "https:// names no host"),
    (["--url", "https://exa mple.com"], "has spaces or control characters"),
    (["--url", "https://127.0.0.1:1", "--host", "ftp://x"], "--host: ftp://x is not a testinfra host"),
    (["--url", "https://127.0.0.1:1", "--host", "ssh://"], "--host: ssh:// names no host"),
    (["--url", "https://127.0.0.1:1", "--address", "example.com"], "--address: example.com is not an IP address"),
    (["--url", "https://127.0.0.1:1", "--soak", "-5"], "--soak: -5.0 is not a number of seconds from 0 to 86400"),
    (["--url", "https://127.0.0.1:1", "--soak", "nan"], "--soak: nan is not a number of seconds"),
    (["--url", "https://127.0.0.1:1", "--soak", "inf"], "--soak: inf is not a number of seconds"),
    (["--url", "https://127.0.0.1:1", "--origin", "https://a.example/path"], "--origin: https://a.example/path is not"),
    ([PROD, "--url", "http://dashboard.example.com"], "is not https://, which the profile serves"),
])
def test_a_bad_verify_argument_exits_2_before_any_check(arguments: list[str], said: str) -> None:
    result = in_process("verify", *arguments, "--only", "reachability")
    assert_one_line_error(result, said)
    assert result.stdout == "", "a check ran"


def test_good_verify_arguments_reach_the_checks() -> None:
    result = in_process("verify", "--url", "http://127.0.0.1:1", "--address", "127.0.0.1", "--host", "local://",
                         "--origin", "http://127.0.0.1:1", "--soak", "0", "--only", "reachability", "--json")
    assert result.returncode == 1 and '"check": "reachability"' in result.stdout, result.stdout + result.stderr


# -- every command, with a bad argument: its exit code, no traceback, nothing written ------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A --root holding one deployment, `real`, with no release yet (as a rolled-back first deploy leaves it)."""
    state = tmp_path / "root" / "var/lib/swarmdeploy/real"
    (state / "releases").mkdir(parents=True)
    (state / "deploy.lock").touch()
    return tmp_path / "root"


BAD_ARGUMENTS = {
    "render into a file's folder": (["render", PROD, "-o", "{tmp}/a-file/bundle"], 2, "is a file"),
    "render an unknown target": (["render", PROD, "--target", "nosuch"], 2, "nosuch"),
    "validate a missing file": (["validate", "{tmp}/missing.yaml"], 2, "missing.yaml"),
    "schema into a missing folder": (["schema", "-o", "{tmp}/missing/schema.json"], 2, "does not exist"),
    "init into a missing folder": (["init", "{tmp}/missing/swarmdeploy.yaml"], 2, "does not exist"),
    "vars in an unknown format": (["vars", PROD, "--format", "toml"], 2, "toml"),
    "serve an instance the profile lacks": (["serve", PROD, "--instance", "5"], 2, "instance 5 does not exist"),
    "serve a negative instance": (["serve", PROD, "--instance", "-1"], 2, "instance -1 does not exist"),
    "verify a port out of range": (["verify", "--url", "https://h:99999"], 2, "Port out of range"),
    "deploy under a root with ;": (["deploy", LOCAL, "--root", "{tmp}/x;y", "--dry-run"], 2, "--root"),
    "export a missing profile": (["export", "ansible", "{tmp}/missing.yaml"], 2, "missing.yaml"),
    "status of no deployment": (["status", "nosuch", "--root", "{root}"], 2, "found real"),
    "releases of no deployment": (["releases", "nosuch", "--root", "{root}"], 2, "found real"),
    "rollback of no deployment": (["rollback", "--name", "nosuch", "--root", "{root}"], 2, "found real"),
    "rollback to no release": (["rollback", "nosuch", "--name", "real", "--root", "{root}"], 2,
                               "no release nosuch of real: it keeps none"),
    "start no deployment": (["start", "nosuch", "--root", "{root}"], 2, "found real"),
    "restart no deployment": (["restart", "--name", "nosuch", "--root", "{root}"], 2, "found real"),
    "stop no deployment": (["stop", "nosuch", "--root", "{root}"], 2, "found real"),
    "start under a root with a space": (["start", "--root", "{tmp}/a b"], 2, "--root"),
}


@pytest.mark.parametrize("case", BAD_ARGUMENTS)
def test_every_command_refuses_a_bad_argument_with_its_exit_code(tmp_path: Path, root: Path, case: str) -> None:
    command, code, said = BAD_ARGUMENTS[case]
    (tmp_path / "a-file").write_text("mine")
    before = tree(tmp_path)
    result = in_process(*(arg.replace("{tmp}", str(tmp_path)).replace("{root}", str(root)) for arg in command))
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and said in result.stderr, result.stderr
    assert tree(tmp_path) == before, "it wrote something"
