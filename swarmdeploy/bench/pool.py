"""The probe's side of the worker processes (bench/worker.py): start them, spread each step's clients over
them, merge what they measured, and stop them."""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from swarmdeploy.bench.procfs import cpu_seconds
from swarmdeploy.bench.target import BenchTarget
from swarmdeploy.errors import SwarmdeployError

FDS_PER_CLIENT = 2  # its socket and aiohttp's own (seen: ~2 per client in /proc/PID/fd)
FD_RESERVE = 256  # the interpreter's own files, pipes and the event loop
MOST_PER_PROCESS = 5000  # beyond this one event loop's own delays (~45 % of a core at 5,000) start to show
ANSWER_LIMIT = 256 * 1024 * 1024  # bytes of one answer line: every round trip of a long window


class WorkerFailed(SwarmdeployError):
    """A worker process died: a bug, or the machine ran out of memory or processes."""


def clients_per_process() -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = MOST_PER_PROCESS if hard == resource.RLIM_INFINITY else (hard - FD_RESERVE) // FDS_PER_CLIENT
    return max(1, min(MOST_PER_PROCESS, limit))


def processes_for(clients: int) -> int:
    return max(1, math.ceil(clients / clients_per_process()))


@dataclass
class Measured:
    """A window, merged over the workers."""

    rtts_ms: list[float] = field(default_factory=list)
    sent: int = 0
    received: int = 0
    connected: int = 0
    failed: int = 0
    dropped: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, answer: dict[str, Any]) -> None:
        self.rtts_ms += answer.get("rtts_ms", [])
        for counter in ("sent", "received", "connected", "failed", "dropped"):
            setattr(self, counter, getattr(self, counter) + answer.get(counter, 0))
        for error, count in answer["errors"].items():
            self.errors[error] = self.errors.get(error, 0) + count


class Pool:
    def __init__(self, processes: list[asyncio.subprocess.Process]) -> None:
        self.processes = processes

    @classmethod
    async def start(cls, target: BenchTarget, count: int) -> Pool:
        processes = []
        for first in range(count):
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "swarmdeploy.bench.worker", stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, limit=ANSWER_LIMIT)
            processes.append(process)
            setup = {"url": target.engineio_url, "origin": target.origin, "auth": target.auth,
                     "ca_file": str(target.ca_file) if target.ca_file else None, "first": first, "stride": count,
                     "loopback": target.ipv4_loopback}
            await cls._send(process, setup)
        return cls(processes)

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def cpu_seconds(self) -> float:
        """The load client's CPU time: every worker's, and this process's."""
        return sum(cpu_seconds(pid) for pid in [os.getpid(), *self.pids])

    async def grow(self, total: int, ramp: float, progress: Callable[[int], None]) -> Measured:
        """Run `total` clients in all, spread evenly; progress(connected or failed) as they come."""
        shares = [total // len(self.processes) + (i < total % len(self.processes)) for i in range(len(self.processes))]
        settled = [0] * len(self.processes)

        def on_progress(index: int, value: int) -> None:
            settled[index] = value
            progress(sum(settled))

        return await self._ask([{"grow": share, "ramp": ramp / len(self.processes)} for share in shares], on_progress)

    async def measure(self, seconds: float, grace: float) -> Measured:
        return await self._ask([{"measure": seconds, "grace": grace}] * len(self.processes))

    async def stop(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                try:
                    await self._send(process, {"stop": True})
                except (BrokenPipeError, ConnectionResetError):
                    pass
        for process in self.processes:
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()

    async def _ask(self, commands: list[dict[str, Any]],
                   on_progress: Callable[[int, int], None] = lambda _i, _v: None) -> Measured:
        for process, command in zip(self.processes, commands, strict=True):
            await self._send(process, command)
        answers = await asyncio.gather(*(self._answer(i, on_progress) for i in range(len(self.processes))))
        merged = Measured()
        for answer in answers:
            merged.add(answer)
        return merged

    async def _answer(self, index: int, on_progress: Callable[[int, int], None]) -> dict[str, Any]:
        process = self.processes[index]
        while True:
            line = await process.stdout.readline()
            if not line:
                code = await process.wait()
                raise WorkerFailed(f"load client process {process.pid} exited with code {code} (see its error above)")
            message = json.loads(line)
            if "progress" not in message:
                return message
            on_progress(index, message["progress"])

    @staticmethod
    async def _send(process: asyncio.subprocess.Process, message: dict[str, Any]) -> None:
        process.stdin.write(json.dumps(message).encode() + b"\n")
        await process.stdin.drain()
