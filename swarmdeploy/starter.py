"""`swarmdeploy init`: a commented starter profile that validates as written."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from swarmdeploy.bundle import write_file


def starter_text() -> str:
    return resources.files("swarmdeploy").joinpath("starter.yaml").read_text("utf-8")


def write_starter(path: Path, force: bool = False) -> None:
    """An existing file is kept unless force; nothing is half-written (see bundle.write_file)."""
    write_file(path, starter_text(), "choose another path", overwrite=force)
