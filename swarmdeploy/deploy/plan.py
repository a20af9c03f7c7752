"""The plan: files a deploy adds, changes and removes against the current release, with diffs."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from swarmdeploy.deploy.releases import Release


@dataclass(frozen=True)
class Plan:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    diffs: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def describe(self) -> str:
        """A summary for the step's line, then each file and the diffs indented on the lines below it."""
        if self.empty:
            return "no file changes: the services restart and verify again"
        entries = [f"+ {p}" for p in self.added] + [f"~ {p}" for p in self.changed] + [f"- {p}" for p in self.removed]
        lines = [line for entry in [*entries, *(self.diffs[p] for p in self.changed)] for line in entry.splitlines()]
        summary = f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed"
        return summary + "".join(f"\n  {line}" for line in lines)


def make_plan(files: dict[str, str], current: Release | None) -> Plan:
    old = {rel: (current.path / rel).read_text() for rel in current.files()} if current else {}
    changed = sorted(p for p in files if p in old and old[p] != files[p])
    diffs = {p: "".join(difflib.unified_diff(old[p].splitlines(True), files[p].splitlines(True),
                                             f"current/{p}", f"new/{p}")) for p in changed}
    return Plan(sorted(set(files) - set(old)), changed, sorted(set(old) - set(files)), diffs)
