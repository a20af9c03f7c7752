"""The one result type every check returns: what it tested, what it saw, and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Status(str, Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


# Worst first: a check's status is the worst of its observations.
_SEVERITY = {Status.FAIL: 3, Status.WARN: 2, Status.PASS: 1, Status.SKIP: 0}


@dataclass(frozen=True)
class Observation:
    """One thing a check looked at: 'chain trusted', 'pingInterval', 'foreign origin refused'."""

    what: str
    status: Status
    saw: str
    fix: str = ""


@dataclass(frozen=True)
class CheckResult:
    check: str
    title: str
    observations: tuple[Observation, ...]
    seconds: float = 0.0

    @property
    def status(self) -> Status:
        if not self.observations:
            return Status.SKIP
        return max((o.status for o in self.observations), key=_SEVERITY.__getitem__)

