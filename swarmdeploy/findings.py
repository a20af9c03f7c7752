"""The one shape every profile problem takes: where it is, what is wrong, how to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """A problem in a profile, located at the line of the offending value."""

    file: str
    line: int
    column: int
    path: str
    message: str
    fix: str
    rule: str
    severity: Severity = "error"

    def format(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        label = "" if self.severity == "error" else "warning: "
        field = self.path or "(profile)"
        return f"{where} {field}: {label}{self.message} [{self.rule}]\n  fix: {self.fix}"
