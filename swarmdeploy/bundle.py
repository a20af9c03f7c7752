"""Write a rendered bundle atomically: a temporary sibling directory, then a rename."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from swarmdeploy import __version__
from swarmdeploy.errors import OutputDirError

MANIFEST = "manifest.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest(files: dict[str, str], model: dict[str, Any], profile: str) -> dict[str, Any]:
    return {
        "swarmdeploy_version": __version__,
        "profile": profile,
        "files": {path: sha256(text.encode()) for path, text in sorted(files.items())},
        "model": model,
    }


def is_bundle(directory: Path) -> bool:
    try:
        return "files" in json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return False


def write_bundle(directory: Path, files: dict[str, str], manifest_data: dict[str, Any], force: bool = False) -> None:
    """Replace directory with exactly these files plus manifest.json, or leave it untouched."""
    if directory.exists() and not force and not is_bundle(directory):
        raise OutputDirError(
            f"{directory} exists and is not a swarmdeploy bundle (no {MANIFEST}); "
            "choose another directory with -o, or pass --force to replace it"
        )
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        for relative, text in files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        (staging / MANIFEST).write_text(json.dumps(manifest_data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.chmod(staging, 0o755)
        _swap(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap(staging: Path, directory: Path) -> None:
    """Rename staging into place; an old bundle moves aside first and is removed only after."""
    if not directory.exists():
        staging.rename(directory)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old.", dir=directory.parent))
    retired.rmdir()
    directory.rename(retired)
    try:
        staging.rename(directory)
    except BaseException:
        retired.rename(directory)
        raise
    shutil.rmtree(retired, ignore_errors=True)
