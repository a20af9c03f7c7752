"""render's output directory: only a bundle exactly as render left it is replaced without --force; the
folders a user works in are never replaced; renders into one directory take turns, and the temporaries
a killed render left are removed by the next. Every render here is a real `swarmdeploy` process."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import PROFILES
from swarmdeploy import bundle
from swarmdeploy.bundle import bundle_problem
from swarmdeploy.errors import EXIT_LOCKED, Locked

PROD = PROFILES / "prod.yaml"
SWARMDEPLOY = str(Path(sys.executable).parent / "swarmdeploy")


def render(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([SWARMDEPLOY, "render", *args], capture_output=True, text=True, timeout=60, cwd=cwd,
                            env={**os.environ, **(env or {})})
    assert "Traceback" not in result.stderr, result.stderr
    return result


def contents(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_a_folder_whose_manifest_has_files_is_not_taken_for_a_bundle(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "manifest.json").write_text('{"name": "my-app", "files": {"index.html": "0"}}')
    (project / "index.html").write_text("<h1>mine</h1>")
    before = contents(project)
    result = render(str(PROD), "-o", str(project))
    assert result.returncode == 2, result.stdout
    assert "not a swarmdeploy bundle (its manifest.json was not written by swarmdeploy)" in result.stderr
    assert "--force" in result.stderr and contents(project) == before
    assert [p.name for p in tmp_path.iterdir()] == ["project"], "a refused render wrote beside the folder"


def _add_file(out: Path) -> str:
    (out / "nginx" / "notes.txt").write_text("mine")
    return "nginx/notes.txt is not in its manifest"


def _edit_file(out: Path) -> str:
    conf = next((out / "nginx").glob("*.conf"))
    conf.write_text(conf.read_text() + "# tuned by hand\n")
    return f"{conf.relative_to(out)} changed since it was rendered"


def _delete_file(out: Path) -> str:
    conf = next((out / "nginx").glob("*.conf"))
    conf.unlink()
    return f"{conf.relative_to(out)} is missing"


def _add_folder(out: Path) -> str:
    (out / "mine").mkdir()
    return "mine/ is an empty folder render never writes"


def _add_link(out: Path) -> str:
    (out / "elsewhere").symlink_to("/etc")
    return "elsewhere is a link or a special file"


@pytest.mark.parametrize("change", [_add_file, _edit_file, _delete_file, _add_folder, _add_link])
def test_a_bundle_changed_since_render_is_replaced_only_with_force(tmp_path: Path, change) -> None:
    out = tmp_path / "bundle"
    assert render(str(PROD), "-o", str(out)).returncode == 0
    assert bundle_problem(out) is None
    reason = change(out)
    before = contents(out)
    refused = render(str(PROD), "-o", str(out))
    assert refused.returncode == 2 and f"not a swarmdeploy bundle ({reason})" in refused.stderr
    assert contents(out) == before
    assert render(str(PROD), "-o", str(out), "--force").returncode == 0
    assert bundle_problem(out) is None


@pytest.mark.parametrize("where", ["current directory", "parent of the current directory", "home directory",
                                   "profile's folder", "parent of the profile's folder", "/"])
def test_folders_the_user_works_in_are_never_replaced_even_with_force(tmp_path: Path, where: str) -> None:
    work, home, project = tmp_path / "work", tmp_path / "home", tmp_path / "project" / "deploy"
    for folder in (work / "src", home, project):
        folder.mkdir(parents=True)
        (folder / "keep.txt").write_text("mine")
    profile = project / "prod.yaml"
    profile.write_text(PROD.read_text())
    output = {"current directory": ".", "parent of the current directory": "..", "home directory": str(home),
              "profile's folder": str(project), "parent of the profile's folder": str(project.parent), "/": "/"}[where]
    before = {folder: contents(folder) for folder in (work, home, project)}
    result = render(str(profile), "-o", output, "--force", cwd=work / "src", env={"HOME": str(home)})
    assert result.returncode == 2 and f"refusing to replace {output}" in result.stderr, result.stdout + result.stderr
    assert {folder: contents(folder) for folder in (work, home, project)} == before


WORKER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from swarmdeploy.render import render_profile

    profile, out, start, rounds = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    time.sleep(max(0.0, start - time.time()))  # every worker starts writing at the same moment
    for _ in range(rounds):
        render_profile(profile, out)
""")


def test_concurrent_renders_into_one_folder_take_turns(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    start = time.time() + 3  # after every worker has imported swarmdeploy
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(PROD), str(out), str(start), "8"],
                                stderr=subprocess.PIPE, text=True) for _ in range(6)]
    errors = [worker.communicate(timeout=120)[1] for worker in workers]
    assert [worker.returncode for worker in workers] == [0] * 6, "\n".join(errors)
    assert bundle_problem(out) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [".bundle.lock", "bundle"], "temporaries were left behind"


KILLED_RENDER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from swarmdeploy.render import render_profile

    real_write = Path.write_text

    def write_then_die(path, *args, **kwargs):
        real_write(path, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)  # killed with its temporary half-written

    Path.write_text = write_then_die
    render_profile(Path(sys.argv[1]), Path(sys.argv[2]))
""")


def test_the_next_render_removes_what_a_killed_render_left(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    assert render(str(PROD), "-o", str(out)).returncode == 0
    others = [tmp_path / ".bundle.tmp-keep", tmp_path / ".other.tmp-0123abcd", tmp_path / ".bundle2.tmp-0123abcd"]
    for other in others:
        other.mkdir()  # not this directory's temporaries: another output's, or a name render never makes
    for _ in range(2):
        killed = subprocess.run([sys.executable, "-c", KILLED_RENDER, str(PROD), str(out)], timeout=60)
        assert killed.returncode == -9
    left = {p.name for p in tmp_path.iterdir()} - {"bundle", ".bundle.lock"} - {p.name for p in others}
    assert left, "the killed renders left nothing to clean up"
    assert render(str(PROD), "-o", str(out)).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".bundle.lock", "bundle", *(p.name for p in others)])
    assert bundle_problem(out) is None


def test_a_render_waiting_too_long_for_another_fails_with_the_lock_exit_code(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "bundle"
    assert render(str(PROD), "-o", str(out)).returncode == 0
    before = contents(out)
    monkeypatch.setattr(bundle, "LOCK_WAIT", 0.3)
    with (tmp_path / ".bundle.lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(Locked, match=f"another render into {out} has held") as raised:
            bundle.write_bundle(out, {"nginx/x.conf": "x"}, bundle.manifest({"nginx/x.conf": "x"}, {}, "p.yaml"))
    assert raised.value.exit_code == EXIT_LOCKED == 3
    assert contents(out) == before
