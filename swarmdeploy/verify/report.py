"""Reporters: a table for people (rich), JSON for machines, JUnit XML for CI systems."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from swarmdeploy.verify.result import CheckResult, Status

STYLES = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "bold red", Status.SKIP: "dim"}
# What a server or a file may put in a check's text that must not reach a terminal or an XML file as it is:
# C0/C1 control characters (an ESC starts a terminal escape sequence) and bidirectional overrides.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """text with each control character written out (\\x1b, \\u202e); newlines and tabs stay."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)


def _cell(text: str) -> str:
    """Text shown as it is: controls written out, brackets never read as rich markup ('[fd00::1]')."""
    return escape(visible(text))


def table(results: list[CheckResult], console: Console) -> None:
    grid = Table(show_lines=False, title="swarmdeploy verify")
    grid.add_column("check")
    grid.add_column("status")
    grid.add_column("what")
    grid.add_column("saw / fix", overflow="fold")
    for result in results:
        for index, observation in enumerate(result.observations):
            style = STYLES[observation.status]
            name = _cell(f"{result.check} ({result.seconds * 1000:.0f} ms)") if index == 0 else ""
            text = _cell(observation.saw) + (f"\n[bold]fix:[/bold] {_cell(observation.fix)}" if observation.fix
                                             and observation.status in (Status.FAIL, Status.WARN) else "")
            grid.add_row(name, f"[{style}]{_cell(observation.status.value.upper())}[/{style}]",
                         _cell(observation.what), text)
    console.print(grid)
    counts = {status: sum(1 for r in results if r.status is status) for status in Status}
    console.print(", ".join(f"{counts[s]} {s.value}" for s in Status))


def as_json(results: list[CheckResult], url: str) -> dict[str, Any]:
    return {
        "url": url,
        "status": "fail" if any(r.status is Status.FAIL for r in results) else "pass",
        "checks": [
            {"check": r.check, "title": r.title, "status": r.status.value, "seconds": round(r.seconds, 4),
             "observations": [{"what": o.what, "status": o.status.value, "saw": o.saw, "fix": o.fix}
                              for o in r.observations]}
            for r in results
        ],
    }


def write_junit(results: list[CheckResult], path: Path) -> None:
    suite = ElementTree.Element("testsuite", name="swarmdeploy-verify", tests=str(len(results)),
                                failures=str(sum(r.status is Status.FAIL for r in results)),
                                skipped=str(sum(r.status is Status.SKIP for r in results)),
                                time=f"{sum(r.seconds for r in results):.3f}")
    for result in results:
        case = ElementTree.SubElement(suite, "testcase", classname="swarmdeploy.verify", name=result.check,
                                      time=f"{result.seconds:.3f}")
        # XML 1.0 cannot hold most control characters at all.
        lines = visible("\n".join(f"{o.status.value.upper()} {o.what}: {o.saw}" + (f"\n  fix: {o.fix}" if o.fix else "")
                                  for o in result.observations))
        if result.status is Status.FAIL:
            ElementTree.SubElement(case, "failure", message=visible(result.title)).text = lines
        elif result.status is Status.SKIP:
            ElementTree.SubElement(case, "skipped", message=lines)
        else:
            ElementTree.SubElement(case, "system-out").text = lines
    ElementTree.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
