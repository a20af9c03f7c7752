"""Where a deployment keeps its state under --root: releases, the current link, lock, log, runtime; and the
rule every path placed under --root follows, since each is written into nginx and systemd files."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from swarmdeploy.errors import UsageError
from swarmdeploy.schema import profile_schema

STATE_ROOT = Path("var/lib/swarmdeploy")
_ABSOLUTE_PATH = profile_schema()["$defs"]["absolute_path"]  # the rule of every path in a profile


def path_problem(path: str) -> str | None:
    """Why path could not be written into a config as the schema's absolute_path; None when it can. A `..`
    part is refused too: placed under --root, it would lead out of it."""
    if ".." in PurePosixPath(path).parts:
        return "it has a '..' part"
    if len(path) > _ABSOLUTE_PATH["maxLength"]:
        return f"it is longer than {_ABSOLUTE_PATH['maxLength']} characters"
    if not re.fullmatch(_ABSOLUTE_PATH["pattern"], path):
        return "only letters, digits and . _ @ + - may stand between its slashes (no spaces, quotes, ; or %)"
    return None


def checked_root(root: Path) -> Path:
    """--root made absolute; UsageError unless every profile path placed under it is still a safe path."""
    absolute = root.absolute()
    problem = None if absolute == Path("/") else path_problem(str(absolute))
    if problem:
        real = os.path.realpath(absolute)
        spelled = f" (or write it as {real})" if real != str(absolute) and not path_problem(real) else ""
        raise UsageError(f"--root {root}: {problem}, and every path of the profile is placed under it in nginx "
                         f"and systemd files; choose another directory{spelled}")
    return absolute


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

    def under_root(self, path: str, field: str) -> str:
        """The profile's `field`, path, placed under the root; UsageError when the result breaks the path rule."""
        placed = str(self.root / path.lstrip("/"))
        problem = path_problem(placed)
        if problem:
            raise UsageError(f"{field}: {path} placed under --root {self.root} is {placed}: {problem}; "
                             "fix the profile or choose another --root")
        return placed


def deployments(root: Path) -> list[str]:
    base = root / STATE_ROOT
    try:
        return sorted(p.name for p in base.iterdir() if (p / "releases").is_dir()) if base.is_dir() else []
    except OSError as error:  # a state directory only root may read
        raise UsageError(f"cannot read the deployments in {base}: {error.strerror}; run as a user who may "
                         "(sudo)") from error


def existing_layout(root: Path, name: str) -> Layout:
    """The layout of a deployment that exists under root; UsageError naming those that do otherwise."""
    found = deployments(root)
    if name not in found:
        raise UsageError(f"no deployment {name!r} under {root}: found {', '.join(found) or 'none'}")
    return Layout(root, name)
