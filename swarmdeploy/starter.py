"""`swarmdeploy init`: a commented starter profile that validates as written."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from swarmdeploy.errors import SwarmdeployError


def starter_text() -> str:
    return resources.files("swarmdeploy").joinpath("starter.yaml").read_text("utf-8")


def write_starter(path: Path, force: bool = False) -> None:
    if path.exists() and not force:
        raise SwarmdeployError(f"{path} already exists; pass --force to overwrite it or choose another path")
    path.write_text(starter_text(), encoding="utf-8")
