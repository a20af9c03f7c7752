"""A worker process of `swarmdeploy bench`: one asyncio loop running its share of the clients, driven over
stdin and stdout with one JSON object a line (several processes, since one may hold only 20,000 file
descriptors here, FACTS.md §1b, and one event loop's own delays would count as the server's).

    python -m swarmdeploy.bench.worker

The first line sets it up: {"url", "origin", "ca_file", "auth", "first", "stride", "loopback"}; it runs
clients first, first + stride, ... so every client of every worker has an index of its own (and on loopback a
source address of its own). Then, each answered by one line:

    {"grow": N, "ramp": R}        open clients (R a second) until it runs N; progress lines {"progress": K} first
    {"measure": S, "grace": G}    count S seconds of pings, and their pongs until G seconds after
    {"stop": true}                close every client and exit (no answer)

Every answer carries the counts (connected, failed, dropped) and errors so far.
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import ssl
import sys
import time
from typing import Any

import uvloop

from swarmdeploy.bench.client import CONNECT_TIMEOUT, Endpoint, Stats, run_client, source_address

PROGRESS_INTERVAL = 0.25  # seconds between progress lines while clients connect


class Worker:
    def __init__(self, setup: dict[str, Any]) -> None:
        context = None
        if setup["url"].startswith("wss://"):
            context = ssl.create_default_context(cafile=setup["ca_file"])
        self.endpoint = Endpoint(setup["url"], setup["origin"], context, setup["auth"])
        self.first, self.stride, self.loopback = setup["first"], setup["stride"], setup["loopback"]
        self.stats = Stats()
        self.pinging, self.stop, self.done = asyncio.Event(), asyncio.Event(), asyncio.Event()
        self.pinging.set()  # a client pings once connected: earlier steps' clients keep pinging during a ramp
        self.tasks: list[asyncio.Task[None]] = []

    def counts(self) -> dict[str, Any]:
        stats = self.stats
        return {"connected": stats.connected, "failed": stats.failed, "dropped": stats.dropped,
                "errors": stats.errors}

    async def grow(self, total: int, ramp: float) -> dict[str, Any]:
        started = len(self.tasks)
        last_progress = 0.0
        for _ in range(started, total):
            index = self.first + self.stride * len(self.tasks)
            self.tasks.append(asyncio.create_task(run_client(
                index, self.endpoint, self.stats, self.pinging, self.stop, self.done,
                source_address(index) if self.loopback else None)))
            await asyncio.sleep(1.0 / ramp)
            if time.monotonic() - last_progress > PROGRESS_INTERVAL:
                last_progress = time.monotonic()
                self.progress()
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while self.stats.connected + self.stats.failed < total and time.monotonic() < deadline:
            self.progress()
            await asyncio.sleep(PROGRESS_INTERVAL)
        # This process's own collector pauses would count as the server's latency: freeze what the connections
        # built now, before the warm-up. A collection at the start of the window held back every ping due
        # meanwhile, which then went out in one burst inside the window: at 5,000 clients a p99 of ~100 ms
        # instead of 3-6 ms, this process's and not the server's (docs/benchmarks.md).
        gc.collect()
        gc.freeze()
        return self.counts()

    def progress(self) -> None:
        write({"progress": self.stats.connected + self.stats.failed})

    async def measure(self, seconds: float, grace: float) -> dict[str, Any]:
        gc.disable()  # and no collection while measuring (what grow() froze is out of reach anyway)
        try:
            self.stats.open_window()
            await asyncio.sleep(seconds)
            self.stats.stop_window()
            await asyncio.sleep(grace)
            window = self.stats.close_window()
        finally:
            gc.enable()
        # Microseconds are plenty, and keep the answer line short.
        return {"rtts_ms": [round(rtt, 3) for rtt in window.rtts_ms], "sent": window.sent,
                "received": window.received, **self.counts()}

    async def close(self) -> None:
        self.stop.set()
        self.done.set()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=10)


def write(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def serve() -> None:
    loop = asyncio.get_running_loop()

    async def read() -> dict[str, Any]:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        return json.loads(line) if line else {"stop": True}  # the probe is gone: stop too

    worker = Worker(await read())
    while True:
        command = await read()
        if "grow" in command:
            write(await worker.grow(command["grow"], command["ramp"]))
        elif "measure" in command:
            write(await worker.measure(command["measure"], command["grace"]))
        else:
            await worker.close()
            return


def main() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # one descriptor or two per client
    uvloop.run(serve())  # the load client's own CPU per round trip is its event loop's, mostly


if __name__ == "__main__":
    main()
