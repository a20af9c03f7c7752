"""A progress bar for the probe (rich, from the verify extra): the step, its phase, how far it is."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from swarmdeploy.bench.probe import Step


class ProgressBar:
    """The probe's Observer. Lines printed while it runs (on_start's, on_step's) appear above it."""

    def __init__(self, console: Console, disable: bool, on_start: Callable[[int], None],
                 on_step: Callable[[Step], None]) -> None:
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                                 TimeElapsedColumn(), console=console, disable=disable, transient=True)
        self.task = self.progress.add_task("starting the load client", total=None)
        self.on_start, self.on_step = on_start, on_step

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.progress.stop()

    def started(self, processes: int) -> None:
        self.on_start(processes)

    def phase(self, step: int, clients: int, what: str, done: float, total: float) -> None:
        self.progress.update(self.task, description=f"step {step}: {clients:,} clients, {what}", completed=done,
                             total=total)

    def finished(self, step: Step) -> None:
        self.on_step(step)
