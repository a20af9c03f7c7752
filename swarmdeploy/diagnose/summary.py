"""SUMMARY.txt, the archive's first file: which deployment, the likely problems (most likely first: what the
state shows, then what verify fails, then what the files and logs show), how secrets were kept out, and what
each file holds."""

from __future__ import annotations

import datetime
import textwrap

from swarmdeploy import __version__
from swarmdeploy.diagnose.context import Context
from swarmdeploy.diagnose.part import Clue

SUMMARY = "SUMMARY.txt"
WIDTH = 100  # columns of the paragraphs


def summary(ctx: Context, clues: list[Clue], contents: list[tuple[str, str]], failed_parts: list[str]) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    release = f"release {ctx.release.id} ({ctx.manager} manager)" if ctx.release else "no current release"
    lines = [f"swarmdeploy diagnose of {ctx.name} under {ctx.root}, {now}, swarmdeploy {__version__}",
             f"{release}" + (f"; profile {ctx.profile}" if ctx.profile else ""), ""]
    unique = list({clue.problem: clue for clue in clues}.values())
    if unique:
        lines.append("Likely problems, most likely first:")
        for number, clue in enumerate(unique, 1):
            lines += [f"  {number}. {clue.problem}",
                      f"     cause: {clue.cause.likely} (guide: {clue.cause.guide})",
                      f"     fix: {clue.fix}"]
            if clue.evidence:
                lines.append(f"     see: {clue.evidence}")
    else:
        lines.append("No problem found: every service runs and listens, and nothing in verify, the files, the logs "
                     "or the limits points at one.")
    if failed_parts:
        lines += ["", f"Could not collect: {', '.join(failed_parts)} (errors.txt says why; please report it)."]
    secrets = (f"Secrets: none included. {len(ctx.scrub.searchable)} secret value(s) known here (the secrets file, "
               "secret-named variables, the message queue's password, private key lines) were replaced wherever "
               "they appeared, and the archive was searched for each before it was written. Private key and "
               "secrets files are never copied.")
    lines += ["", *textwrap.wrap(secrets, WIDTH), "", "Contents:"]
    width = max((len(name) for name, _ in contents), default=0)
    previous = None
    for name, title in contents:  # a part's title once, beside its first file
        lines.append(f"  {name:<{width}}  {title if title != previous else ''}".rstrip())
        previous = title
    return "\n".join(lines) + "\n"
