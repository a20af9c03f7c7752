"""The capacity probe: ramp WebSocket clients in steps, measure each step, stop at the first that breaks a
threshold. Every figure comes with the load client's own CPU: on a shared machine a busy client is slow
too, and its delays count as the server's (FACTS.md §4b)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from swarmdeploy.bench.client import percentile
from swarmdeploy.bench.instances import LocalInstances, local_instances
from swarmdeploy.bench.pool import Measured, Pool, processes_for
from swarmdeploy.bench.target import BenchTarget, refuse_remote_load

GOOD_P99_MS = 150.0  # the guide's band: under 150 ms is "Good" (verify's latency grades too)
DEFAULT_STEPS = (100, 500, 1000, 2500, 5000)


@dataclass(frozen=True)
class Thresholds:
    p99_ms: float = GOOD_P99_MS
    lost_pongs: int = 0  # more lost pongs than this break a step
    failed_clients: int = 0  # more clients that failed to connect or were dropped break a step


@dataclass(frozen=True)
class Settings:
    steps: tuple[int, ...] = DEFAULT_STEPS
    duration: float = 10.0  # measured seconds per step
    warmup: float = 2.0  # seconds after a step's clients connected, not measured (set-up garbage settles)
    grace: float = 2.0  # seconds for pongs in flight after the window
    ramp: float = 500.0  # new connections a second
    thresholds: Thresholds = Thresholds()
    own_host: bool = False  # the user says a host off this machine is theirs: any number of clients


@dataclass(frozen=True)
class Step:
    clients: int
    connected: int  # open at the end of the step
    failed: int  # never connected
    dropped: int  # connected, then lost
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    sent: int
    received: int
    client_cpu_percent: float  # of one core, in the window: the load client's own
    server_cpu_percent: float | None  # the local instances' workers (None: not local)
    kib_per_connection: float | None  # (instances' RSS now - before any client) / open connections
    errors: dict[str, int] = field(default_factory=dict)
    broken: tuple[str, ...] = ()  # thresholds this step crossed

    @property
    def lost(self) -> int:
        return self.sent - self.received


@dataclass(frozen=True)
class Result:
    url: str
    settings: Settings
    processes: int
    cores: int
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    steps: tuple[Step, ...]

    @property
    def broke(self) -> Step | None:
        return next((step for step in self.steps if step.broken), None)

    @property
    def held(self) -> Step | None:
        """The largest step that held every threshold."""
        return next((step for step in reversed(self.steps) if not step.broken), None)


class Observer(Protocol):
    """Told where the probe is, for a progress bar."""

    def started(self, processes: int) -> None: ...

    def phase(self, step: int, clients: int, what: str, done: float, total: float) -> None: ...

    def finished(self, step: Step) -> None: ...


def crossed(thresholds: Thresholds, measured: Measured, p99: float) -> tuple[str, ...]:
    broken = []
    lost_clients = measured.failed + measured.dropped
    if lost_clients > thresholds.failed_clients:
        worst = max(measured.errors, key=measured.errors.__getitem__, default="")
        broken.append(f"{lost_clients:,} clients failed or were dropped ({worst})")
    if measured.sent - measured.received > thresholds.lost_pongs:
        broken.append(f"{measured.sent - measured.received:,} of {measured.sent:,} pongs lost")
    if measured.rtts_ms and p99 > thresholds.p99_ms:  # no pong at all: failures or lost pongs said it
        broken.append(f"p99 crossed {thresholds.p99_ms:g} ms ({p99:.1f} ms)")
    return tuple(broken)


def run(target: BenchTarget, settings: Settings, observer: Observer) -> Result:
    """UsageError before any socket when the target is another host and the steps go past a few clients:
    checked here, not in probe(), because asyncio's event loop opens a socketpair for itself."""
    refuse_remote_load(target, max(settings.steps), settings.own_host)
    return asyncio.run(probe(target, settings, observer))


async def probe(target: BenchTarget, settings: Settings, observer: Observer) -> Result:
    cores, load_before = os.cpu_count() or 1, os.getloadavg()
    instances = local_instances(target.model)
    idle_rss = instances.rss_kib() if instances else 0
    pool = await Pool.start(target, processes_for(max(settings.steps)))
    observer.started(len(pool.processes))
    steps: list[Step] = []
    try:
        for number, clients in enumerate(settings.steps, 1):
            step = await _step(pool, number, clients, settings, instances, idle_rss, observer)
            steps.append(step)
            observer.finished(step)
            if step.broken:
                break
    finally:
        await pool.stop()
    return Result(target.url, settings, len(pool.processes), cores, load_before, os.getloadavg(), tuple(steps))


async def _step(pool: Pool, number: int, clients: int, settings: Settings, instances: LocalInstances | None,
                idle_rss: int, observer: Observer) -> Step:
    observer.phase(number, clients, "connecting", 0, clients)
    await pool.grow(clients, settings.ramp, lambda settled: observer.phase(number, clients, "connecting",
                                                                            settled, clients))
    await _wait(settings.warmup, lambda elapsed: observer.phase(number, clients, "warming up", elapsed,
                                                                settings.warmup))
    rss = instances.rss_kib() if instances else 0
    client_before, server_before = pool.cpu_seconds(), instances.cpu_seconds() if instances else 0.0
    measuring = asyncio.create_task(pool.measure(settings.duration, settings.grace))
    await _wait(settings.duration, lambda elapsed: observer.phase(number, clients, "measuring", elapsed,
                                                                  settings.duration))
    client_cpu = 100 * (pool.cpu_seconds() - client_before) / settings.duration
    server_cpu = 100 * (instances.cpu_seconds() - server_before) / settings.duration if instances else None
    observer.phase(number, clients, "pongs in flight", 0, 1)
    measured = await measuring
    p99 = percentile(measured.rtts_ms, 99)
    open_connections = measured.connected - measured.dropped
    return Step(clients, open_connections, measured.failed, measured.dropped, percentile(measured.rtts_ms, 50),
                percentile(measured.rtts_ms, 95), p99, max(measured.rtts_ms, default=float("nan")), measured.sent,
                measured.received, client_cpu, server_cpu,
                (rss - idle_rss) / open_connections if instances and open_connections else None,
                measured.errors, crossed(settings.thresholds, measured, p99))


async def _wait(seconds: float, tick: Callable[[float], None]) -> None:
    """Sleep, telling tick(elapsed) a few times a second."""
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        tick(elapsed)
        await asyncio.sleep(min(0.2, seconds - elapsed))
    tick(seconds)
