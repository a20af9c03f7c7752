"""The probe's result for people (a line a step, then the capacity it measured) and for CI (--json)."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from swarmdeploy.bench.probe import Result, Step


def ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def step_line(step: Step) -> str:
    server = ""
    if step.server_cpu_percent is not None:
        server = f"; server CPU {step.server_cpu_percent:.0f} %"
    if step.kib_per_connection is not None:
        server += f", {step.kib_per_connection:.1f} KiB per connection"
    failed = f", {step.failed + step.dropped:,} failed" if step.failed + step.dropped else ""
    crossed = f"  <- {'; '.join(step.broken)}" if step.broken else ""
    return (f"{step.clients:>7,} clients: {step.connected:,} connected{failed}, p50 {ms(step.p50_ms)}, "
            f"p99 {ms(step.p99_ms)}, lost {step.lost:,} of {step.sent:,} pongs; "
            f"load client CPU {step.client_cpu_percent:.0f} %{server}{crossed}")


def capacity(result: Result) -> str:
    """held 5,000 clients, p99 17 ms; at 7,500 p99 crossed 150 ms"""
    held, broke = result.held, result.broke
    if broke is None:
        return (f"held {held.clients:,} clients, p99 {ms(held.p99_ms)}: no threshold crossed "
                "(more --clients would find the limit)")
    reason = "; ".join(broke.broken)
    before = [step for step in result.steps if step is not broke]
    if not before:
        return f"did not hold {broke.clients:,} clients, the first step: {reason}"
    return f"held {held.clients:,} clients, p99 {ms(held.p99_ms)}; at {broke.clients:,} {reason}"


def client_warning(result: Result) -> str | None:
    """A load client near a full core per process measures itself more than the server."""
    busiest = max((step.client_cpu_percent / result.processes for step in result.steps), default=0.0)
    if busiest < 80:
        return None
    return (f"the load client used {busiest:.0f} % of a core per process: its own delays are in these figures; "
            "run it from another machine, or with fewer clients")


def machine_line(result: Result) -> str:
    """The load beside the figures: on a busy machine they measure the neighbours too."""
    return (f"machine: {result.cores} cores, load average {result.load_before[0]:.2f} before, "
            f"{result.load_after[0]:.2f} after")


def as_json(result: Result) -> dict[str, Any]:
    def step(entry: Step) -> dict[str, Any]:
        data = asdict(entry)
        data["lost"] = entry.lost
        return {key: (None if math.isnan(value) else round(value, 3)) if isinstance(value, float) else value
                for key, value in data.items()}

    thresholds = asdict(result.settings.thresholds)
    return {"url": result.url, "capacity": capacity(result), "held": result.held.clients if result.held else 0,
            "thresholds": thresholds, "steps": [step(entry) for entry in result.steps],
            "processes": result.processes, "cores": result.cores,
            "load_average": {"before": result.load_before, "after": result.load_after},
            "settings": {"duration": result.settings.duration, "warmup": result.settings.warmup,
                         "grace": result.settings.grace, "ramp": result.settings.ramp}}
