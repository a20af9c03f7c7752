"""Shared test helpers: locating real tools, and the repository layout."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PROFILES = REPO / "profiles"
EXAMPLE_PROFILES = sorted(PROFILES.glob("*.yaml"))


def require_tool(name: str) -> str:
    """The tool's path; a missing tool skips on a laptop but fails under CI=true."""
    found = shutil.which(name) or (shutil.which(name, path=str(Path(os.sys.executable).parent)))
    if found:
        return found
    message = f"{name} is not installed (scripts/setup installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
