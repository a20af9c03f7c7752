"""What swarmdeploy writes where the user points it: a rendered bundle (render -o) or one file (init PATH,
schema -o, verify --junit-xml). Each is checked before anything is written, then written into a temporary
sibling and renamed into place, so a reader sees the old output or the new one, never a mix; every OS
error becomes an OutputError naming the path and the fix.

A directory is a bundle, which render may replace without --force, only when it is exactly what render
left there: manifest.json says `"generator": "swarmdeploy"`, and the folder holds the files the manifest
lists, each with its sha256, and nothing else. Renders into one directory take turns on a lock file
beside it, `.NAME.lock`; the temporaries beside it, `.NAME.tmp-XXXXXXXX`, that a killed render left are
removed by the next render.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from swarmdeploy import __version__
from swarmdeploy.errors import Locked, OutputError

MANIFEST = "manifest.json"
GENERATOR = "swarmdeploy"  # manifest.json's "generator": what no other program writes there
NAME_MAX = 255  # bytes in one file name (Linux file systems)
_TEMPORARY_SUFFIX = ".tmp-"  # then 8 hex digits
_ROOM = len(".") + len(_TEMPORARY_SUFFIX) + 8  # what a temporary sibling adds to the output's name
LOCK_WAIT = 60.0  # seconds a render waits for another render into the same directory
BUNDLE_FIX = "choose another directory with -o"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest(files: dict[str, str], model: dict[str, Any], profile: str) -> dict[str, Any]:
    return {
        "generator": GENERATOR,
        "swarmdeploy_version": __version__,
        "profile": profile,
        "files": {path: sha256(text.encode()) for path, text in sorted(files.items())},
        "model": model,
    }


# -- is it a bundle? ------------------------------------------------------------------------------


def bundle_problem(directory: Path) -> str | None:
    """Why directory is not a bundle exactly as render left it; None when it is."""
    try:
        listed = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"it has no {MANIFEST}"
    except (OSError, ValueError) as error:
        return f"its {MANIFEST} cannot be read: {error}"
    ours = isinstance(listed, dict) and listed.get("generator") == GENERATOR and isinstance(listed.get("files"), dict)
    if not ours:
        return f"its {MANIFEST} was not written by swarmdeploy"
    try:
        found = _listed_files_in(directory, {*listed["files"], MANIFEST})
    except (OSError, ValueError) as error:
        return str(error)
    missing = sorted(set(listed["files"]) - set(found))
    if missing:
        return f"{missing[0]} is missing"
    try:
        changed = [rel for rel, digest in listed["files"].items() if sha256(found[rel].read_bytes()) != digest]
    except OSError as error:  # removed or replaced while being read: by another render's swap, say
        return f"it changed while it was being read: {error}"
    return f"{changed[0]} changed since it was rendered" if changed else None


def _listed_files_in(directory: Path, listed: set[str]) -> dict[str, Path]:
    """Every file under directory by relative path; ValueError at the first thing render did not write
    there (a file not listed, a link, an empty folder), so a big folder is not walked to its end."""
    found = {}
    for folder, subfolders, names in os.walk(directory, onerror=_raise):
        here = Path(folder)
        if not subfolders and not names and here != directory:
            raise ValueError(f"{here.relative_to(directory)}/ is an empty folder render never writes")
        for name in [*subfolders, *names]:
            path = here / name
            relative = str(path.relative_to(directory))
            if path.is_symlink() or not (path.is_dir() or path.is_file()):
                raise ValueError(f"{relative} is a link or a special file")
            if path.is_file() and relative not in listed:
                raise ValueError(f"{relative} is not in its manifest")
            if path.is_file():
                found[relative] = path
    return found


def _raise(error: OSError) -> None:
    raise error


# -- a bundle -------------------------------------------------------------------------------------


def write_bundle(directory: Path, files: dict[str, str], manifest_data: dict[str, Any], force: bool = False,
                 keep: Iterable[Path] = ()) -> None:
    """Replace directory with exactly these files plus manifest.json, or leave it untouched.

    Never replaced, even with force: `/`, the current or home directory, a folder holding any of `keep`
    (the profile). Without force, only a bundle (see the module) is replaced.
    """
    _refuse_protected(directory, keep)
    _refuse_long_name(directory)
    try:
        _refuse_before_locking(directory, force)
        with _parents_made(directory), _output_lock(directory):
            _remove_leftovers(directory)
            _refuse_replacing(directory, force)  # again where it counts: no other render can change it now
            staging = _stage(directory, files, manifest_data)
            try:
                _swap(staging, directory)
            finally:
                shutil.rmtree(staging, ignore_errors=True)  # only there when the swap failed
    except OSError as error:
        raise OutputError.from_os_error(directory, error, BUNDLE_FIX) from error


def _refuse_protected(directory: Path, keep: Iterable[Path]) -> None:
    """Replacing these deletes what the user works in; no --force makes that a render's job."""
    target = _real(directory)
    guarded = {_real(Path.cwd()): "the current directory", _real(Path(os.path.expanduser("~"))): "your home directory",
               **{_real(path): str(path) for path in keep}}
    for path, what in guarded.items():
        if path == target or target in path.parents:
            raise OutputError(f"refusing to replace {directory}: it is or holds {what}; {BUNDLE_FIX} "
                              "(such as build/NAME)")


def _real(path: Path) -> Path:
    """path with links and .. resolved; unlike Path.resolve, never raises (a link loop stays as it is)."""
    return Path(os.path.realpath(path))


def _refuse_long_name(path: Path) -> None:
    """Leaves room for the temporary sibling, so a name the file system takes is never refused half-way."""
    size = len(path.name.encode())
    if size > NAME_MAX - _ROOM:
        raise OutputError(f"cannot write {path}: its name is {size} bytes long; at most {NAME_MAX - _ROOM} leave room "
                          f"for the temporary .NAME{_TEMPORARY_SUFFIX}XXXXXXXX swarmdeploy writes beside it; choose a "
                          "shorter name")


def _refuse_before_locking(directory: Path, force: bool) -> None:
    """Refuse before the lock file is made, so a refused render writes nothing at all. Where a render has
    already left its lock file, another may be swapping the directory right now: what looks wrong may be
    that swap half-way, so the check under the lock decides (taking an existing lock writes nothing)."""
    try:
        _refuse_replacing(directory, force)
    except OutputError:
        if not _lock_file(directory).exists():
            raise


def _refuse_replacing(directory: Path, force: bool) -> None:
    if not directory.exists():
        return
    if not directory.is_dir():
        raise OutputError(f"cannot write {directory}: it is not a directory; {BUNDLE_FIX}")
    problem = None if force else bundle_problem(directory)
    if problem:
        raise OutputError(f"{directory} exists and is not a swarmdeploy bundle ({problem}); {BUNDLE_FIX}, "
                          "or pass --force to replace it and delete everything in it")


@contextmanager
def _parents_made(path: Path) -> Iterator[None]:
    """Make path's missing parent folders; when the write fails, remove them (and the lock file in them) again."""
    missing = [parent for parent in path.parents if not parent.exists()]
    blocking = next(parent for parent in path.parents if parent.exists())
    if not blocking.is_dir():
        raise OutputError(f"cannot write {path}: {blocking} is a file, not a directory; {BUNDLE_FIX}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        if missing:
            _lock_file(path).unlink(missing_ok=True)
        for parent in missing:
            _remove_empty(parent)
        raise


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # another process wrote into it meanwhile: it is not ours to remove


def _lock_file(directory: Path) -> Path:
    return directory.with_name(f".{directory.name}.lock")


@contextmanager
def _output_lock(directory: Path) -> Iterator[None]:
    """One render into a directory at a time; the others wait their turn (LOCK_WAIT at most). The kernel
    drops the lock of a render that dies."""
    lock = _lock_file(directory)
    with lock.open("a") as handle:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Locked(f"another render into {directory} has held {lock} for {LOCK_WAIT:.0f} s; "
                                 "wait for it to finish, or choose another -o directory") from None
                time.sleep(0.05)
        yield


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}{_TEMPORARY_SUFFIX}{secrets.token_hex(4)}")


def _remove_leftovers(directory: Path) -> None:
    """Temporaries of this directory that a killed render left: no other render runs now (we hold the lock)."""
    own = re.compile(re.escape(f".{directory.name}{_TEMPORARY_SUFFIX}") + "[0-9a-f]{8}")
    for leftover in directory.parent.iterdir():
        if not own.fullmatch(leftover.name):
            continue
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()


def _stage(directory: Path, files: dict[str, str], manifest_data: dict[str, Any]) -> Path:
    staging = _temporary(directory)
    staging.mkdir(mode=0o700)
    try:
        for relative, text in files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        (staging / MANIFEST).write_text(json.dumps(manifest_data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.chmod(staging, 0o755)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def _swap(staging: Path, directory: Path) -> None:
    """Rename staging into place; an old bundle moves aside first and is removed only after."""
    if not directory.exists():
        staging.rename(directory)
        return
    retired = _temporary(directory)
    directory.rename(retired)
    try:
        staging.rename(directory)
    except BaseException:
        retired.rename(directory)
        raise
    shutil.rmtree(retired, ignore_errors=True)


# -- one file -------------------------------------------------------------------------------------


def check_file_output(path: Path, fix: str, overwrite: bool = True) -> None:
    """Refuse, before any work, a path that cannot become a regular file in an existing folder."""
    try:
        existing = path.stat()
    except FileNotFoundError:
        existing = None
    except OSError as error:
        raise OutputError.from_os_error(path, error, fix) from error
    if existing is None and not path.parent.is_dir():
        raise OutputError(f"cannot write {path}: the folder {path.parent} does not exist; create it first "
                          f"(mkdir -p {path.parent}) or {fix}")
    if existing is not None and not path.is_file():
        raise OutputError(f"cannot write {path}: it is not a regular file; {fix}")
    if existing is not None and not overwrite:
        raise OutputError(f"{path} already exists; pass --force to overwrite it, or {fix}")
    folder = _real(path).parent  # where the temporary goes, beside the file a link names
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: the folder {folder} is not writable; {fix}")
    _refuse_long_name(path)


def write_file(path: Path, text: str, fix: str, overwrite: bool = True) -> None:
    check_file_output(path, fix, overwrite)
    write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"), fix)


def write_atomically(path: Path, write: Callable[[Path], object], fix: str) -> None:
    """`write` fills a temporary sibling, which then replaces the file (through a link, the file it names),
    keeping its mode: a full disk leaves the old file whole."""
    target = _real(path)
    temporary = _temporary(target)
    try:
        write(temporary)
        if target.exists():
            shutil.copymode(target, temporary)
        temporary.replace(target)
    except OSError as error:
        raise OutputError.from_os_error(path, error, fix) from error
    finally:
        temporary.unlink(missing_ok=True)
