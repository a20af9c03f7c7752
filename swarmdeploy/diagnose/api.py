"""diagnose as a library call: check the output path, gather the context, collect every part, summarise, pack,
refuse any secret, write."""

from __future__ import annotations

import datetime
import traceback
from dataclasses import dataclass
from pathlib import Path

from swarmdeploy.diagnose import archive
from swarmdeploy.diagnose.context import Context, gather
from swarmdeploy.diagnose.part import Clue
from swarmdeploy.diagnose.parts import PARTS
from swarmdeploy.diagnose.summary import SUMMARY, summary

ERRORS = "errors.txt"


@dataclass(frozen=True)
class Diagnosis:
    path: Path
    size: int  # bytes of the archive
    files: dict[str, int]  # archive path -> bytes, in archive order
    clues: list[Clue]


def default_output(name: str) -> Path:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(f"swarmdeploy-diagnose-{name}-{stamp}.tar.gz")


def diagnose(profile: Path | None, root: Path, output: Path | None, name: str | None = None,
             fresh_verify: bool = True) -> Diagnosis:
    if output:
        archive.check_output(output)
    ctx = gather(profile, root, name, fresh_verify)
    output = output or default_output(ctx.name)
    archive.check_output(output)
    files, clues, contents, failed = _collect(ctx)
    ordered = {SUMMARY: summary(ctx, clues, [(SUMMARY, "this summary"), *contents], failed), **files}
    scrubbed = {name: ctx.scrub.text(text).encode() for name, text in ordered.items()}  # every text, once more
    packed = archive.pack(output.name.removesuffix(".tar.gz").removesuffix(".tgz"), scrubbed)
    archive.refuse_secrets(packed, ctx.scrub)
    archive.write(output, packed)
    return Diagnosis(output, len(packed), {name: len(data) for name, data in scrubbed.items()}, clues)


def _collect(ctx: Context) -> tuple[dict[str, str], list[Clue], list[tuple[str, str]], list[str]]:
    """Every part's files and clues. A part that fails (a bug, or a host odder than expected) is named in
    errors.txt and the summary; the others still make the archive."""
    files: dict[str, str] = {}
    clues: list[Clue] = []
    contents: list[tuple[str, str]] = []
    failed: list[str] = []
    errors = []
    for part in PARTS:
        try:
            collected = part.collect(ctx)
        except Exception as error:  # noqa: BLE001 - reported in the archive, which is for bug reports too
            failed.append(part.name)
            errors.append(f"{part.name}:\n{''.join(traceback.format_exception(error))}")
            continue
        files.update(collected.files)
        clues += collected.clues
        contents += [(name, part.title) for name in collected.files]
    if errors:
        files[ERRORS] = "\n".join(errors)
        contents.append((ERRORS, "parts that could not be collected, with the error"))
    return files, clues, contents, failed
