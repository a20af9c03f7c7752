"""What every validator is made of, and the one result type each reports."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swarmdeploy.validators.scratch import ScratchCopy
from swarmdeploy.verify.result import Status


@dataclass(frozen=True)
class Tool:
    program: str
    install: str  # the command that installs it on Debian 12, said when it is missing

    def find(self) -> str | None:
        """Beside this Python first (a venv's console scripts: its cfn-lint can import swarmdeploy's rules), then PATH."""
        return shutil.which(self.program, path=str(Path(sys.executable).parent)) or shutil.which(self.program)


@dataclass(frozen=True)
class Verdict:
    status: Status
    detail: str = ""  # the tool's own message on failure; why on a skip; a measurement on a pass


@dataclass(frozen=True)
class Validator:
    name: str  # how the report names it: the command as a person would type it
    tool: Tool
    files: tuple[str, ...]  # bundle-relative globs of the files it reads
    run: Callable[[ScratchCopy, str], Verdict]  # given the scratch copy and the program's path


@dataclass(frozen=True)
class ValidatorResult:
    validator: str
    target: str
    files: tuple[str, ...]  # bundle-relative
    status: Status
    detail: str = ""


TIMEOUT = 120  # seconds for one tool run; terraform init is the slowest


def execute(argv: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
    """Run a validator's tool and capture its words (undecodable bytes replaced). A timeout or a program that
    will not start raises: the runner reports it as the validator's failure."""
    return subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=TIMEOUT, **options)
