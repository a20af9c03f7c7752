"""Shared test helpers: locating real tools, and the repository layout."""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

# A plugin of the browser tests (pytest_plugins), imported by them first: rewritten like a test module.
pytest.register_assert_rewrite("browser_stack")

REPO = Path(__file__).resolve().parent.parent
PROFILES = REPO / "profiles"
EXAMPLE_PROFILES = sorted(PROFILES.glob("*.yaml"))


def missing(message: str) -> None:
    """Skip on a laptop; under CI=true every real component is installed, so fail."""
    (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)(message)


def require_tool(name: str) -> str:
    """The tool's path: on PATH or beside this Python (the venv's console scripts)."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if not found:
        missing(f"{name} is not installed (scripts/setup installs it)")
    return found


def require_module(name: str) -> ModuleType:
    """An installed Python module (an extra's), skipped on a laptop without it, a failure under CI=true."""
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(f"the Python module {name} is not installed (scripts/setup installs it)")
        raise


def require_file(path: Path) -> Path:
    if not path.is_file():
        missing(f"{path} is missing (scripts/setup installs the package that ships it)")
    return path


@pytest.fixture
def local(tmp_path: Path):
    """profiles/local.yaml on free ports under tmp_path/root (deploy tests); stopped afterwards."""
    from deploy_support import local_deployment

    for tool in ("nginx", "redis-server"):
        require_tool(tool)
    deployment = local_deployment(tmp_path)
    yield deployment
    deployment.stop()


@pytest.fixture
def supervisor(tmp_path: Path):
    """Starts real processes for a test and stops each by its PID afterwards."""
    from server_stack import Supervisor

    running = Supervisor(tmp_path)
    yield running
    running.stop_all()


@pytest.fixture
def clients():
    opened: list = []
    yield opened
    for client in opened:
        client.close()


@pytest.fixture
def connect(clients: list):
    """Opens python-socketio clients that are closed after the test."""
    from server_stack import Client

    def open_client(url: str, transports: list[str] | None = None, **kwargs):
        client = Client(url, transports or ["websocket"], **kwargs)
        clients.append(client)
        return client

    return open_client
