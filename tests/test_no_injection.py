"""No profile string can carry config or template syntax: every string field has a safe pattern."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from swarmdeploy.schema import profile_schema
from swarmdeploy.validation import ProfileValidator

# Each would end a directive, open a block, start a variable, or open template syntax somewhere.
PAYLOADS = [";", "{", "}", "\n", "\r", '"', "'", "$", "{{", "{%", "\\", " ", "#", "`"]


def resolve_ref(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        target = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def string_fields(schema: dict[str, Any], node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict]]:
    node = resolve_ref(schema, node)
    for branch in node.get("anyOf", []):
        yield from string_fields(schema, branch, path)
    types = node.get("type", [])
    types = [types] if isinstance(types, str) else types
    if "string" in types:
        yield path, node
    for key, child in node.get("properties", {}).items():
        yield from string_fields(schema, child, f"{path}.{key}".lstrip("."))
    if isinstance(node.get("items"), dict):
        yield from string_fields(schema, node["items"], f"{path}[]")


FIELDS = list(string_fields(profile_schema(), profile_schema()))


def test_the_walk_finds_the_string_fields() -> None:
    found = {path for path, _ in FIELDS}
    assert {"name", "site.server_names[]", "tls.certificate", "socketio.cors_allowed_origins[]",
            "server.message_queue", "socketio.path"} <= found


@pytest.mark.parametrize(("path", "node"), FIELDS, ids=[p for p, _ in FIELDS])
def test_every_string_field_is_anchored_and_refuses_syntax(path: str, node: dict[str, Any]) -> None:
    pattern = node.get("pattern")
    assert pattern, f"{path} accepts any string"
    assert pattern.startswith("^") and pattern.endswith("$"), f"{path}: pattern must match the whole value"
    validator = ProfileValidator({"pattern": pattern})
    for payload in PAYLOADS:
        for prefix in ("ab", "/ab", "https://ab", "redis://ab", "1.2", "ELBSecurityPolicy-ab"):
            for candidate in (payload, f"{prefix}{payload}", f"{prefix}{payload}x"):
                assert not validator.is_valid(candidate), (path, candidate)


def test_a_trailing_newline_is_refused_although_python_dollar_would_match_it() -> None:
    validator = ProfileValidator(profile_schema())
    profile = {"name": "ab", "site": {"server_names": ["dashboard.example.com\n"]}}
    assert any(e.validator == "pattern" for e in validator.iter_errors(profile))
