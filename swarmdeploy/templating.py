"""The jinja2 environment, set up as Ansible's `template` module sets up its own.

With these settings an Ansible task given the model as the variable `sd` renders byte-identical
files (FACTS.md §4); templates therefore use no custom or Ansible-only filters.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from swarmdeploy.model import Model

# The model is one variable so no field collides with Ansible's reserved names (environment, name).
MODEL_VARIABLE = "sd"


def templates_dir() -> Path:
    """Top-level templates/ in a checkout; swarmdeploy/templates inside an installed wheel."""
    packaged = Path(str(resources.files("swarmdeploy"))) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "templates"


def _finalize(value: Any) -> Any:
    return "" if value is None else value


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        trim_blocks=True,
        lstrip_blocks=False,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        autoescape=False,
    )


def render_template(template: str, model: Model) -> str:
    return environment().get_template(template).render({MODEL_VARIABLE: model})
