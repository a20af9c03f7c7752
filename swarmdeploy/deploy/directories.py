"""The directories the rendered nginx.conf writes to: proxy.log_dir and the pid file's. Preflight checks
that each exists or can be made, and apply makes them before nginx starts, so what preflight passes apply
can start. nginx makes its temp paths itself inside directories that exist (Debian compiles them in under
/var/lib/nginx, which --root does not move; a build with relative ones puts them in the prefix, which the
process manager makes)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def written_dirs(model: dict[str, Any]) -> dict[str, Path]:
    """The profile field -> the directory nginx writes to because of it."""
    proxy = model["proxy"]
    return {"proxy.log_dir": Path(proxy["log_dir"]), "proxy.pid_file": Path(proxy["pid_file"]).parent}


def directory_problems(model: dict[str, Any]) -> list[str]:
    problems = []
    for field, directory in written_dirs(model).items():
        existing = next(p for p in (directory, *directory.parents) if p.exists())
        if not existing.is_dir():
            problems.append(f"{field}: cannot create {directory}: {existing} is not a directory")
        elif not os.access(existing, os.W_OK | os.X_OK):
            verb = "write to" if existing == directory else "create"
            problems.append(f"{field}: cannot {verb} {directory}: {existing} is not writable")
    return problems


def make_directories(model: dict[str, Any]) -> list[Path]:
    """Make the missing ones; returns those it made."""
    made = []
    for directory in dict.fromkeys(written_dirs(model).values()):
        if not directory.is_dir():
            directory.mkdir(parents=True)
            made.append(directory)
    return made
