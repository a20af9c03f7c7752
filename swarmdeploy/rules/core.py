"""What a cross-field rule is, and the one list every rule registers itself in.

Rules read the profile with schema defaults filled in. A rule is skipped when a field it reads
has the wrong type (the schema already reports that); it may read values the schema found out
of range or not allowed, and its finding then replaces the schema's less specific one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from swarmdeploy.findings import Severity
from swarmdeploy.schema import profile_schema

ProfileData = dict[str, Any]


@dataclass(frozen=True)
class Violation:
    path: str
    message: str
    fix: str


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    reads: tuple[str, ...]
    check: Callable[[ProfileData], Iterator[Violation]]
    # Schema findings this rule explains better at the same field (eventlet is "not allowed", but why).
    replaces: frozenset[str] = frozenset()


RULES: list[Rule] = []


def rule(rule_id: str, reads: tuple[str, ...], severity: Severity = "error", replaces: tuple[str, ...] = ()):
    def register(check: Callable[[ProfileData], Iterator[Violation]]):
        RULES.append(Rule(rule_id, severity, reads, check, frozenset(replaces)))
        return check

    return register


def value(data: ProfileData, dotted: str) -> Any:
    current: Any = data
    for part in dotted.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def all_match(definition: str, values: Any) -> bool:
    """Every value is a string of the schema's $defs form (hostname, origin...): a rule that quotes
    values back only does so for values the schema accepts."""
    pattern = re.compile(profile_schema()["$defs"][definition]["pattern"])
    return isinstance(values, list) and all(isinstance(v, str) and "\n" not in v and pattern.search(v) for v in values)
