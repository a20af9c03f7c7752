"""N ping/pong round trips over WebSocket through the public URL: p50, p95 and the grade."""

from __future__ import annotations

import asyncio
import statistics
import time

from swarmdeploy.verify.engineio import SocketIOWebSocket
from swarmdeploy.verify.result import Observation, Status
from swarmdeploy.verify.target import Target

GRADES = ((50, "Excellent"), (150, "Good"), (300, "Fair"))  # ms upper bounds, as on the status page
# Samples spread over time, as a dashboard's traffic is, so one lucky or unlucky moment is not the grade.
SPACING = 0.02  # seconds between pings


def grade(milliseconds: float) -> str:
    return next((name for bound, name in GRADES if milliseconds < bound), "Poor")


async def _round_trips(target: Target, samples: int) -> list[float]:
    client = SocketIOWebSocket(target)
    try:
        await client.connect(target.auth)
        times = []
        for number in range(samples):
            start = time.perf_counter()
            await client.emit("ping", {"check": "latency", "n": number})
            await client.wait_event("pong", target.timeout)
            times.append((time.perf_counter() - start) * 1000)
            await asyncio.sleep(SPACING)
        return times
    finally:
        await client.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def run(target: Target) -> list[Observation]:
    samples = target.expect("verify.latency_samples", 20)
    times = asyncio.run(_round_trips(target, samples))
    p50, p95 = statistics.median(times), percentile(times, 0.95)
    name = grade(p95)
    saw = f"{samples} round trips: p50 {p50:.1f} ms, p95 {p95:.1f} ms, grade {name}"
    if name in ("Excellent", "Good"):
        return [Observation("round trip", Status.PASS, saw)]
    return [Observation("round trip", Status.WARN if name == "Fair" else Status.FAIL, saw,
                        "look for a stalled or saturated instance (CPU, GC pauses: /metrics), a distant region, or "
                        "proxy buffering (proxy_buffering off in the Socket.IO location)")]
