"""A pip-installed swarmdeploy renders exactly what the checkout renders, and without its extras every
command either works or names the extra to install."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import click
import pytest

from conftest import REPO
from swarmdeploy.cli import main
from swarmdeploy.cli.group import extra_providing
from swarmdeploy.targets import TARGETS

# One worker builds the wheel and the venv once for the whole session.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("wheel")]


def tree(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    return next(dist.glob("swarmdeploy-*.whl"))


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel and no extras: what `pip install swarmdeploy` gives."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([venv / "bin" / "pip", "install", "-q", str(wheel)], check=True, capture_output=True, timeout=300)
    return venv


def test_wheel_ships_every_template_and_the_schema(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {output.template for target in TARGETS.values() for output in target.outputs}
    missing = [t for t in templates if f"swarmdeploy/templates/{t}" not in names]
    assert not missing, missing
    assert "swarmdeploy/schema/profile.schema.json" in names
    assert "swarmdeploy/starter.yaml" in names


def test_installed_wheel_renders_prod_byte_identically(venv: Path, tmp_path: Path) -> None:
    profile = REPO / "profiles" / "prod.yaml"
    checkout, installed = tmp_path / "checkout", tmp_path / "installed"
    subprocess.run([Path(sys.executable).parent / "swarmdeploy", "render", str(profile), "-o", str(checkout)],
                   check=True, capture_output=True, timeout=60)
    subprocess.run([venv / "bin" / "swarmdeploy", "render", str(profile), "-o", str(installed)],
                   check=True, capture_output=True, timeout=60, cwd=tmp_path)
    assert tree(installed) == tree(checkout)
    # The installed copy loaded its own templates, not the checkout's.
    where = subprocess.run([venv / "bin" / "python", "-c",
                            "from swarmdeploy.templating import templates_dir; print(templates_dir())"],
                           check=True, capture_output=True, text=True, cwd=tmp_path).stdout.strip()
    assert where.startswith(str(venv)), where


def commands(tmp: Path) -> dict[str, tuple[list[str], str | None]]:
    """Every command -> arguments that get it to its work, and the extra it needs (None: none)."""
    profile, root, name = str(REPO / "profiles" / "local.yaml"), str(tmp / "root"), "swarmbot-local"
    return {
        "init": ([str(tmp / "new.yaml")], None),
        "schema": ([], None),
        "validate": ([profile], None),
        "vars": ([profile], None),
        "render": ([profile, "-o", str(tmp / "bundle")], None),
        "serve": ([profile], "server"),
        "verify": ([profile], "verify"),
        "deploy": ([profile, "--root", root, "--service-manager", "process", "--yes"], "verify"),
        "rollback": (["--name", name, "--root", root], "verify"),
        "status": ([name, "--root", root], None),
        "releases": ([name, "--root", root], None),
        "start": ([name, "--root", root], None),
        "restart": (["--name", name, "--root", root], None),
        "stop": ([name, "--root", root], None),
        "export": (["ansible", profile, "-o", str(tmp / "role")], None),
        # Collects what it can without extras: verify's part of the archive says it needs the verify extra.
        "diagnose": ([profile, "--root", root, "-o", str(tmp / "diagnose.tar.gz")], None),
        "bench": (["--url", "https://localhost:1", "--clients", "1", "--duration", "1"], "verify"),
    }


def test_without_extras_every_command_works_or_names_its_extra(venv: Path, tmp_path: Path) -> None:
    table = commands(tmp_path)
    assert set(table) == set(main.list_commands(click.Context(main))), "list the new command here"
    for name, (args, extra) in table.items():
        result = subprocess.run([venv / "bin" / "swarmdeploy", name, *args], capture_output=True, text=True,
                                timeout=120, cwd=tmp_path, check=False)
        said = result.stdout + result.stderr
        assert "Traceback" not in said, f"swarmdeploy {name}:\n{said}"
        if extra:
            assert f"pip install 'swarmdeploy[{extra}]'" in result.stderr, f"swarmdeploy {name}:\n{said}"
            # serve checks for gunicorn itself (swarmdeploy/server/serve.py) and exits 1.
            assert result.returncode == (1 if name == "serve" else 2), f"swarmdeploy {name}:\n{said}"
        else:
            assert "pip install" not in said, f"swarmdeploy {name}:\n{said}"
    with tarfile.open(tmp_path / "diagnose.tar.gz") as archive:  # nothing deployed: what it can collect
        assert archive.getnames()[0] == "diagnose/SUMMARY.txt", archive.getnames()


def test_the_cli_names_the_extra_of_every_optional_dependency() -> None:
    """The CLI's table of modules by extra covers each package pyproject's server and verify extras list
    (this venv has every extra installed, so each package's modules are known)."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    modules_of: dict[str, list[str]] = {}
    for module, distributions in importlib.metadata.packages_distributions().items():
        for distribution in distributions:
            modules_of.setdefault(distribution.lower().replace("_", "-"), []).append(module)
    for extra in ("server", "verify"):
        for requirement in extras[extra]:
            distribution = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
            modules = modules_of.get(distribution, [])
            assert any(extra_providing(m) == extra for m in modules), f"{distribution} ({extra}): {modules}"
