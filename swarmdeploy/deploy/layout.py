"""Where a deployment keeps its state under --root: releases, the current link, lock, log, runtime."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STATE_ROOT = Path("var/lib/swarmdeploy")


@dataclass(frozen=True)
class Layout:
    root: Path
    name: str

    @property
    def state_root(self) -> Path:
        """Shared by every deployment on the host: holds last-deployment.json for a bare verify."""
        return self.root / STATE_ROOT

    @property
    def state(self) -> Path:
        return self.state_root / self.name

    @property
    def releases(self) -> Path:
        return self.state / "releases"

    @property
    def current(self) -> Path:
        return self.state / "current"  # a symlink to releases/ID, switched by one rename

    @property
    def lock(self) -> Path:
        return self.state / "deploy.lock"

    @property
    def log(self) -> Path:
        return self.state / "deploy.log"

    @property
    def last_verify(self) -> Path:
        return self.state / "last-verify.json"

    @property
    def run(self) -> Path:
        """The process manager's pid files, logs and nginx prefix."""
        return self.state / "run"

    def under_root(self, path: str) -> str:
        return str(self.root / path.lstrip("/"))


def deployments(root: Path) -> list[str]:
    base = root / STATE_ROOT
    return sorted(p.name for p in base.iterdir() if (p / "releases").is_dir()) if base.is_dir() else []
