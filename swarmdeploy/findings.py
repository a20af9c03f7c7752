"""The one shape every profile problem takes: where it is, what is wrong, how to fix it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from swarmdeploy.limits import MAX_SHOWN_CHARS

Severity = Literal["error", "warning"]

# What a profile's keys, values or file name may hold that must not reach a terminal as it is: C0
# controls (a newline would forge a finding line, ESC starts an escape sequence), DEL, C1 controls,
# Unicode line and paragraph separators, and the bidirectional marks, embeddings, overrides and isolates.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: str) -> str:
    """text as one safe line: the middle of a long text cut (saying how much), every control written out."""
    if len(text) > MAX_SHOWN_CHARS:
        head, tail = MAX_SHOWN_CHARS * 3 // 4, MAX_SHOWN_CHARS // 4
        text = f"{text[:head]}…[cut {len(text) - head - tail:,} of {len(text):,} characters]…{text[-tail:]}"
    return _UNSAFE.sub(_escape, text)


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
        """Always exactly two lines, whatever the profile's keys and values hold (see `shown`)."""
        where = f"{shown(self.file)}:{self.line}:{self.column}"
        label = "" if self.severity == "error" else "warning: "
        field = shown(self.path) if self.path else "(profile)"
        return f"{where} {field}: {label}{shown(self.message)} [{self.rule}]\n  fix: {shown(self.fix)}"
