"""The profile's JSON Schema: shipped as package data, printed by `swarmdeploy schema`."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def profile_schema() -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath("profile.schema.json").read_text("utf-8"))


def schema_text() -> str:
    return resources.files(__package__).joinpath("profile.schema.json").read_text("utf-8")
