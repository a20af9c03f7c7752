"""A command imports only what it needs: `render` and `validate` run in a fresh process without the server,
verify or deploy libraries (they cost start-up time, and may not be installed), and the lazy command
table in swarmdeploy/cli/registry.py names exactly the commands the modules define."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROFILES, REPO

# Libraries of the server and verify extras, and swarmdeploy's own heavier stages.
NOT_FOR_PROFILE_COMMANDS = ("flask", "flask_socketio", "socketio", "engineio", "gevent", "gunicorn", "redis",
                            "prometheus_client", "testinfra", "sslyze", "playwright", "rich", "websockets",
                            "swarmdeploy.server", "swarmdeploy.verify", "swarmdeploy.deploy", "swarmdeploy.export")

# Runs the command as the console script does, then prints which of the modules above it loaded.
PROBE = """
import json, sys
from swarmdeploy.cli import main
code = 0
try:
    main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
watched = {watched}
loaded = sorted(name for name in sys.modules if any(name == w or name.startswith(w + ".") for w in watched))
print(json.dumps({{"code": code, "loaded": loaded}}), file=sys.stderr)
"""


def loaded_by(*args: str) -> tuple[int, list[str]]:
    code = PROBE.format(watched=list(NOT_FOR_PROFILE_COMMANDS))
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60,
                          cwd=REPO, check=False)
    result = json.loads(done.stderr.strip().splitlines()[-1])
    return result["code"], result["loaded"]


@pytest.mark.parametrize("command", ["render", "validate"])
def test_profile_commands_load_no_server_verify_or_deploy_module(command: str, tmp_path: Path) -> None:
    args = [command, str(PROFILES / "prod.yaml")] + (["-o", str(tmp_path / "bundle")] if command == "render" else [])
    code, loaded = loaded_by(*args)
    assert code == 0
    assert loaded == []


def test_validate_does_not_load_the_template_engine() -> None:
    probe = ("import sys\nfrom swarmdeploy.cli import main\ntry:\n    main(sys.argv[1:])\n"
             "except SystemExit:\n    pass\nprint('jinja2' in sys.modules, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe, "validate", str(PROFILES / "prod.yaml")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.stderr.strip().splitlines()[-1] == "False"


def test_the_probe_sees_a_command_that_does_load_them(tmp_path: Path) -> None:
    """The checks above could pass by never seeing anything: `export` does load swarmdeploy.export."""
    code, loaded = loaded_by("export", "ansible", str(PROFILES / "prod.yaml"), "-o", str(tmp_path / "role"))
    assert code == 0
    assert "swarmdeploy.export" in loaded


def test_registry_names_exactly_the_commands_the_modules_define() -> None:
    code = ("import importlib, json, pkgutil, swarmdeploy.cli as cli\n"
            "from swarmdeploy.cli.group import main\n"
            "for m in pkgutil.iter_modules(cli.__path__):\n"
            "    importlib.import_module('swarmdeploy.cli.' + m.name)\n"
            "from swarmdeploy.cli.registry import COMMANDS\n"
            "print(json.dumps({'defined': sorted(main.commands), 'listed': sorted(COMMANDS),"
            " 'modules': {n: c.callback.__module__ for n, c in main.commands.items()},"
            " 'registry': COMMANDS}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    found = json.loads(done.stdout)
    assert found["defined"] == found["listed"], "add the command to swarmdeploy/cli/registry.py"
    for name, module in found["modules"].items():
        assert module == f"swarmdeploy.cli.{found['registry'][name]}", name


def test_every_command_module_is_importable_on_its_own() -> None:
    """Each module is imported alone when its command runs: none may rely on another having been imported first."""
    from swarmdeploy import cli

    for module in pkgutil.iter_modules(cli.__path__):
        subprocess.run([sys.executable, "-c", f"import swarmdeploy.cli.{module.name}"], check=True, timeout=60)
