"""The one result type of every part of the archive: the files it adds, and the likely problems it saw."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from swarmdeploy.diagnose.context import Context


@dataclass(frozen=True)
class Cause:
    """A cause the troubleshooting guide (or FACTS.md) names, as it applies to a swarmdeploy deployment."""

    guide: str  # where the guide describes the symptom
    likely: str  # what usually causes it here


@dataclass(frozen=True)
class Clue:
    """A likely problem a part saw, for SUMMARY.txt."""

    problem: str  # what was seen
    cause: Cause
    fix: str
    evidence: str = ""  # the archive's file that shows it


@dataclass(frozen=True)
class Collected:
    # archive path -> text: mappings in it redacted by name (Scrubber.mapping); the archive scrubs every text again
    files: dict[str, str] = field(default_factory=dict)
    clues: list[Clue] = field(default_factory=list)


@dataclass(frozen=True)
class Part:
    name: str
    title: str  # one line in SUMMARY.txt's list of contents
    collect: Callable[[Context], Collected]
