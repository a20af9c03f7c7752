"""Check a loaded profile against the JSON Schema and fill in the schema's defaults."""

from __future__ import annotations

import copy
import difflib
import math
import re
from collections.abc import Hashable, Iterator
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match

from swarmdeploy.findings import Finding
from swarmdeploy.schema import profile_schema
from swarmdeploy.yaml_source import FieldPath, YamlDocument

_RANGE_KEYWORDS = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength"}


def _whole_value_pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    """JSON Schema's `$` means end of string; Python's also matches before a final newline,
    which would let "host\n" through every anchored pattern and into a config file."""
    if isinstance(instance, str) and not (re.search(pattern, instance) and "\n" not in instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _is_integer(_checker: Any, instance: Any) -> bool:
    """No 2.0 for an integer field: it would render as "2.0" in a config."""
    return isinstance(instance, int) and not isinstance(instance, bool)


def _is_finite_number(_checker: Any, instance: Any) -> bool:
    """No .nan or .inf: NaN passes every minimum and maximum (each comparison is false), and written into the
    environment file as `nan` it stops the server's batches from ever leaving."""
    if isinstance(instance, bool) or not isinstance(instance, (int, float)):
        return False
    return isinstance(instance, int) or math.isfinite(instance)  # isfinite would overflow on a huge int


def _canonical(value: Any) -> Hashable:
    """One hashable form per JSON value, equal exactly where JSON Schema's equality is: 1 and 1.0 are one
    number, true is not 1, and the order of a mapping's keys does not count."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, (int, float)):
        return ("number", value)  # 1 == 1.0 and hash(1) == hash(1.0)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list):
        return ("array", tuple(_canonical(item) for item in value))
    if isinstance(value, dict):
        return ("object", frozenset((_canonical(k), _canonical(v)) for k, v in value.items()))
    return ("other", repr(value))  # what YAML reads and JSON has no word for, such as a date


def _unique_items(validator: Any, unique: bool, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    """jsonschema compares a list of mappings pair by pair (5,000 of them took 53 s): hash each item's
    canonical form instead, once. Points at the first repeat."""
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: dict[Hashable, int] = {}
    for index, item in enumerate(instance):
        first = seen.setdefault(_canonical(item), index)
        if first != index:
            yield ValidationError(f"item {index} repeats item {first}", path=[index], instance=item)
            return


ProfileValidator = validators.extend(
    Draft202012Validator,
    {"pattern": _whole_value_pattern, "uniqueItems": _unique_items},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"integer": _is_integer, "number": _is_finite_number}),
)


def dotted(path: FieldPath) -> str:
    return ".".join(str(p) for p in path)


_TYPE_WORDS = {"integer": "a whole number", "number": "a finite number", "string": "text", "boolean": "true or false",
               "array": "a list", "object": "a mapping of fields", "null": "nothing"}


def _about(error: ValidationError) -> str:
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    return f" ({description})" if description else ""


def _expected(error: ValidationError) -> str:
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    return f"use {description}" if description else "see `swarmdeploy schema` for what this field accepts"


def _range_fix(error: ValidationError) -> str:
    schema = error.schema
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    above = "above" if "exclusiveMinimum" in schema else "from"
    if "minLength" in schema or "maxLength" in schema:
        return f"use at most {schema.get('maxLength')} characters" + _about(error)
    return f"use a value {above} {low} to {high}" + _about(error)


def _type_fix(error: ValidationError) -> str:
    expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
    words = " or ".join(_TYPE_WORDS.get(t, t) for t in expected if t != "null")
    if "string" in expected and isinstance(error.instance, (int, float)):
        return f'write it in quotes ("{error.instance}"): YAML read it as a number' + _about(error)
    return f"use {words}" + _about(error)


def _finding(document: YamlDocument, path: FieldPath, message: str, fix: str, rule: str) -> Finding:
    mark = document.mark_of(path)
    return Finding(document.file, mark.line, mark.column, dotted(path), message, fix, rule)


def _unknown_keys(document: YamlDocument, error: ValidationError) -> list[Finding]:
    known = sorted(error.schema.get("properties", {}))
    findings = []
    for key in sorted(set(error.instance) - set(known), key=str):
        path = tuple(error.absolute_path) + (key,)
        close = difflib.get_close_matches(str(key), known, n=1)
        fix = f"did you mean '{close[0]}'?" if close else f"remove it; known fields here: {', '.join(known)}"
        mark = document.key_marks.get(path) or document.mark_of(path)
        findings.append(Finding(document.file, mark.line, mark.column, dotted(path),
                                f"unknown field '{key}'", fix, "schema.unknown-key"))
    return findings


def _translate(document: YamlDocument, error: ValidationError) -> list[Finding]:
    path = tuple(error.absolute_path)
    keyword = error.validator
    if keyword == "additionalProperties":
        return _unknown_keys(document, error)
    if keyword == "anyOf" and error.context:
        # "value or null" fields: a bad value is about the value's branch, not about null.
        branches = error.validator_value
        relevant = [e for e in error.context if branches[e.schema_path[0]] != {"type": "null"}]
        return _translate(document, best_match(relevant or error.context))
    if keyword == "required":
        missing = error.message.split("'")[1]
        return [_finding(document, path + (missing,), f"missing required field '{missing}'",
                         f"add '{missing}' under {dotted(path) or 'the top level'}", "schema.required")]
    if keyword == "type":
        return [_finding(document, path, f"expected {error.validator_value}, got {error.instance!r}",
                         _type_fix(error), "schema.type")]
    if keyword in ("enum", "const"):
        allowed = error.validator_value if keyword == "enum" else [error.validator_value]
        return [_finding(document, path, f"{error.instance!r} is not allowed",
                         "use one of: " + ", ".join(str(a) for a in allowed), "schema.enum")]
    if keyword == "pattern":
        return [_finding(document, path, f"{error.instance!r} has a form or characters not allowed here",
                         _expected(error), "schema.pattern")]
    if keyword in _RANGE_KEYWORDS:
        return [_finding(document, path, error.message, _range_fix(error), "schema.range")]
    if keyword == "uniqueItems":
        return [_finding(document, path, error.message, "list each item once: remove this repeat", "schema.items")]
    if keyword == "maxItems":
        return [_finding(document, path, f"{len(error.instance)} items, more than the {error.validator_value} allowed",
                         f"list at most {error.validator_value}" + _about(error), "schema.items")]
    if keyword == "minItems":
        return [_finding(document, path, error.message, _expected(error), "schema.items")]
    return [_finding(document, path, error.message, _expected(error), f"schema.{keyword}")]


def schema_findings(document: YamlDocument) -> list[Finding]:
    validator = ProfileValidator(profile_schema())
    findings: list[Finding] = []
    for error in validator.iter_errors(document.data):
        findings.extend(_translate(document, error))
    return sorted(findings, key=lambda f: (f.line, f.column, f.rule))


def with_defaults(data: dict[str, Any], schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of data with every missing field that has a schema default filled in."""
    schema = schema if schema is not None else profile_schema()
    filled = copy.deepcopy(data)
    for key, subschema in schema.get("properties", {}).items():
        if key not in filled and "default" in subschema:
            filled[key] = copy.deepcopy(subschema["default"])
        if isinstance(filled.get(key), dict) and "properties" in subschema:
            filled[key] = with_defaults(filled[key], subschema)
    return filled
