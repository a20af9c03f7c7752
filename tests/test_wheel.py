"""A pip-installed swarmdeploy renders exactly what the checkout renders."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO
from swarmdeploy.targets import TARGETS

pytestmark = pytest.mark.integration


def tree(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    return next(dist.glob("swarmdeploy-*.whl"))


def test_wheel_ships_every_template_and_the_schema(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {output.template for target in TARGETS.values() for output in target.outputs}
    missing = [t for t in templates if f"swarmdeploy/templates/{t}" not in names]
    assert not missing, missing
    assert "swarmdeploy/schema/profile.schema.json" in names
    assert "swarmdeploy/starter.yaml" in names


def test_installed_wheel_renders_prod_byte_identically(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([venv / "bin" / "pip", "install", "-q", str(wheel)], check=True, capture_output=True, timeout=300)
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
