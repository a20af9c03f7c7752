"""Progress for people (one line per step) and a JSON-lines log of every deploy in the state dir."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


class Journal:
    def __init__(self, log: Path | None, echo: Callable[[str], None]) -> None:
        self.log = log
        self.echo = echo

    def step(self, step: str, message: str, **data: Any) -> None:
        self.echo(f"[{step}] {message}")
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            entry = {"time": datetime.datetime.now(datetime.UTC).isoformat(), "step": step, "message": message, **data}
            with self.log.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, default=str) + "\n")

    def reporter(self, step: str) -> Callable[[str], None]:
        return lambda message: self.step(step, message)
