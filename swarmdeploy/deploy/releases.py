"""Releases: complete, immutable file sets under releases/ID; `current` names one of them."""

from __future__ import annotations

import datetime
import hashlib
import json
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swarmdeploy.bundle import MANIFEST
from swarmdeploy.deploy.layout import Layout

RELEASE_INFO = "release.json"
# Files a service reads that may hold secrets: never world-readable (FACTS: env files, keys).
PRIVATE_SUFFIXES = (".env", ".key", "privkey.pem")


@dataclass(frozen=True)
class Release:
    id: str
    path: Path

    @property
    def info(self) -> dict[str, Any]:
        return json.loads((self.path / RELEASE_INFO).read_text())

    @property
    def model(self) -> dict[str, Any]:
        return self.info["model"]

    def files(self) -> dict[str, str]:
        """Bundle-relative path -> sha256, from the release's manifest."""
        return json.loads((self.path / MANIFEST).read_text())["files"]

    def intact(self) -> bool:
        """Every file the manifest lists is present with its hash."""
        try:
            return all(hashlib.sha256((self.path / rel).read_bytes()).hexdigest() == digest
                       for rel, digest in self.files().items())
        except (OSError, ValueError, KeyError):
            return False


def new_release_id() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def _mode(relative: str) -> int:
    return 0o600 if relative.endswith(PRIVATE_SUFFIXES) else 0o644


def store_release(layout: Layout, release_id: str, files: dict[str, str], manifest: dict[str, Any],
                  info: dict[str, Any]) -> Release:
    """Write the release into a hidden staging dir, then rename it into releases/ID. A write that fails
    (disk full, say) removes the staging dir: it never becomes a release."""
    layout.releases.mkdir(parents=True, exist_ok=True)
    staging = layout.releases / f".staging-{release_id}"
    staging.mkdir(mode=0o755)
    try:
        for relative, text in files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            target.chmod(_mode(relative))
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        (staging / RELEASE_INFO).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        final = layout.releases / release_id
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Release(release_id, final)


def remove_stale_staging(layout: Layout) -> None:
    """Staging dirs left by an interrupted deploy were never a release: drop them."""
    if layout.releases.is_dir():
        for stale in layout.releases.glob(".staging-*"):
            shutil.rmtree(stale, ignore_errors=True)


def current_release(layout: Layout) -> Release | None:
    if not layout.current.is_symlink():
        return None
    path = layout.current.resolve()
    return Release(path.name, path) if path.is_dir() else None


def list_releases(layout: Layout) -> list[Release]:
    if not layout.releases.is_dir():
        return []
    return [Release(p.name, p) for p in sorted(layout.releases.iterdir()) if p.is_dir() and not p.name.startswith(".")]


def switch_current(layout: Layout, release: Release | None) -> None:
    """Point `current` at release (or remove it) with one atomic rename."""
    if release is None:
        layout.current.unlink(missing_ok=True)
        return
    replace_link(layout.current, Path("releases") / release.id)


def replace_link(path: Path, target: Path) -> None:
    """Point the symlink path at target with one atomic rename (a reader sees the old or the new)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() and path.readlink() == target:
        return
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    temporary.symlink_to(target)
    temporary.replace(path)
