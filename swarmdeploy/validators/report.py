"""The text report of a check: what the validated copy stood in for, then one line per validator
with the tool's own message beneath."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from swarmdeploy.validators.runner import CheckReport
from swarmdeploy.verify.result import Status


def report_lines(report: CheckReport, bundle: Path) -> list[str]:
    lines = [f"Checked a scratch copy of {bundle}/" + (", in which:" if report.stand_ins else ":")]
    lines += [f"  {s.field} {s.original} -> {s.why}" for s in report.stand_ins]
    name_width = max((len(r.validator) for r in report.results), default=0)
    target_width = max((len(r.target) for r in report.results), default=0)
    for result in report.results:
        lines.append(f"{result.status.name:<4}  {result.validator:<{name_width}}  {result.target:<{target_width}}  "
                     f"{', '.join(result.files)}")
        lines += [f"      {line}" for line in result.detail.splitlines()]
    count = Counter(r.status for r in report.results)
    lines.append(f"{count[Status.PASS]} passed, {count[Status.FAIL]} failed, {count[Status.SKIP]} skipped.")
    if report.failed:
        lines.append(f"The bundle in {bundle}/ stays written as rendered; fix what the failing tool names and "
                     "render again.")
    return lines
