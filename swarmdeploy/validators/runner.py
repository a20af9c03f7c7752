"""Run the validators of a bundle's targets on one scratch copy of it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swarmdeploy.bundle import MANIFEST
from swarmdeploy.validators.base import Validator, ValidatorResult, Verdict
from swarmdeploy.validators.registry import VALIDATORS
from swarmdeploy.validators.scratch import STANDABLE, ScratchCopy, StandIn, scratch_copy
from swarmdeploy.verify.result import Status


@dataclass(frozen=True)
class CheckReport:
    results: tuple[ValidatorResult, ...]
    stand_ins: tuple[StandIn, ...]  # what the validated copy changed

    @property
    def failed(self) -> bool:
        return any(r.status is Status.FAIL for r in self.results)


def _run(validator: Validator, target: str, copy: ScratchCopy) -> ValidatorResult:
    program = validator.tool.find()
    if not program:
        verdict = Verdict(Status.SKIP, f"{validator.tool.program} is not installed: {validator.tool.install}")
    else:
        try:
            verdict = validator.run(copy, program)
        except (OSError, subprocess.TimeoutExpired) as error:
            verdict = Verdict(Status.FAIL, f"{validator.tool.program} did not run to the end: {error}")
    return ValidatorResult(validator.name, target, copy.matching(validator.files), verdict.status,
                           copy.relative(verdict.detail))


def check_files(model: dict[str, Any], files: dict[str, str], only: Collection[Validator] | None = None,
                stand_in: Collection[str] = tuple(STANDABLE)) -> CheckReport:
    """Every validator (or only these) of the targets files belong to, run on one scratch copy in which
    the files this machine lacks among the stand_in fields are stood in for."""
    rendered = {relative.split("/", 1)[0] for relative in files}
    chosen = [(target, validator) for target, validators in VALIDATORS.items() if target in rendered
              for validator in validators if only is None or validator in only]
    with scratch_copy(model, files, stand_in) as copy:
        results = tuple(_run(validator, target, copy) for target, validator in chosen)
    return CheckReport(results, copy.stand_ins)


def check_bundle(directory: Path) -> CheckReport:
    """Validate a bundle as written: its files and the resolved model, both as its manifest lists them."""
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    files = {relative: (directory / relative).read_text(encoding="utf-8") for relative in manifest["files"]}
    return check_files(manifest["model"], files)
