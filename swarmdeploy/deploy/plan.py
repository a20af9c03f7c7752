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

    def lines(self) -> list[str]:
        out = [f"+ {p}" for p in self.added] + [f"~ {p}" for p in self.changed] + [f"- {p}" for p in self.removed]
        for path in self.changed:
            out.append(self.diffs[path])
        return out or ["no file changes (services are restarted and verified again)"]


def make_plan(files: dict[str, str], current: Release | None) -> Plan:
    old = {rel: (current.path / rel).read_text() for rel in current.files()} if current else {}
    changed = sorted(p for p in files if p in old and old[p] != files[p])
    diffs = {p: "".join(difflib.unified_diff(old[p].splitlines(True), files[p].splitlines(True),
                                             f"current/{p}", f"new/{p}")) for p in changed}
    return Plan(sorted(set(files) - set(old)), changed, sorted(set(old) - set(files)), diffs)
