"""Load, validate and resolve a profile: the first stage of the pipeline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swarmdeploy.errors import ProfileError
from swarmdeploy.findings import Finding
from swarmdeploy.model import Model, resolve
from swarmdeploy.rules import RULES
from swarmdeploy.validation import schema_findings, with_defaults
from swarmdeploy.yaml_source import RECOVERABLE, YamlDocument, load_yaml

RULES_BY_ID = {rule.id: rule for rule in RULES}

# Schema problems that leave a field unreadable: rules reading that field are skipped. A list with
# too many or repeated items is refused as it is; the rules would only loop over it (36,000 names).
_UNREADABLE = {"schema.type", "schema.required", "schema.items", "yaml.duplicate-key"}


@dataclass(frozen=True)
class Profile:
    path: Path
    model: Model
    warnings: list[Finding]


def _overlaps(a: str, b: str) -> bool:
    """True when one dotted path equals or contains the other."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".") or not a or not b


def _rule_findings(document: YamlDocument, schema: list[Finding]) -> list[Finding]:
    unreadable = [f.path for f in schema if f.rule in _UNREADABLE]
    data = with_defaults(document.data)
    findings = []
    for rule in RULES:
        if any(_overlaps(read, bad) for read in rule.reads for bad in unreadable):
            continue
        for violation in rule.check(data):
            path = tuple(int(p) if p.isdigit() else p for p in violation.path.split("."))
            mark = document.mark_of(path)
            findings.append(Finding(document.file, mark.line, mark.column, violation.path,
                                    violation.message, violation.fix, rule.id, rule.severity))
    return findings


def check_profile(path: Path) -> tuple[YamlDocument, list[Finding]]:
    """Every problem in the profile, errors and warnings, in file order."""
    document, findings = load_yaml(path)
    if any(f.rule != RECOVERABLE for f in findings):  # the loader could not read every value
        return document, findings
    if not isinstance(document.data, dict):
        return document, [Finding(str(path), 1, 1, "", "a profile is a YAML mapping of fields",
                                  "start from `swarmdeploy init`", "schema.type")]
    schema = schema_findings(document)
    rules = _rule_findings(document, schema + findings)
    replaced = {(f.path, schema_rule) for f in rules for schema_rule in RULES_BY_ID[f.rule].replaces}
    schema = [f for f in schema if (f.path, f.rule) not in replaced]
    return document, sorted(findings + schema + rules, key=lambda f: (f.line, f.column, f.rule))


def load_profile(path: Path, adjust: Callable[[dict[str, Any]], None] | None = None) -> Profile:
    """The resolved profile, or ProfileError listing every error.

    `adjust` may change the validated data (defaults filled in) before it is resolved: deploy
    uses it to place every path under --root.
    """
    document, findings = check_profile(path)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise ProfileError(findings)
    data = with_defaults(document.data)
    if adjust:
        adjust(data)
    return Profile(path, resolve(data), [f for f in findings if f.severity == "warning"])
