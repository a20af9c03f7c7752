"""A redeploy under load: N clients (default 1,000) subscribed to one room through nginx with TLS, a publisher at
20 events/s, and `swarmdeploy deploy` restarting every instance (drained, one at a time) meanwhile.

    .venv/bin/python benchmarks/redeploy_under_load.py [--clients 1000] [--rate 20]

Prints: events lost (history's events a client never delivered), duplicates delivered, copies the clients
dropped (replay overlapping live events: the protocol's price, not an error), connection attempts refused or
answered 5xx (counted by the clients and in nginx's logs), reconnect time p50/p99 (a disconnect to the next
pong), and the load client's CPU. The clients are tests/reconnecting_clients.py (aiohttp, one process): each
resumes from the last event it delivered after every reconnect (docs/resume.md). On a shared machine, say so
beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the tests' helpers: the demo profile's deployment, the load clients
from deploy_support import LocalDeployment, local_deployment
from reconnecting_clients import Fleet, RunningFleet

from swarmdeploy.deploy.releases import current_release

ROOM = "redeploy-bench"
TOKEN_VARIABLE = "REDEPLOY_BENCH_PUBLISH_TOKEN"  # not SWARMDEPLOY_*: the process manager passes it to instances
LOAD = REPO / "tests" / "resume_load.py"
GAP_WAIT_S = 2.0  # no progress past a hole for this long: the client resumes (the docs' client waits 1 s)
UPSTREAM_FAILURE = re.compile(r"connect\(\) failed|no live upstreams|upstream prematurely closed|upstream timed out|"
                              r"while connecting to upstream")


class Ordered:
    """One client's room: delivers each event once, in number order, and resumes from the last one delivered."""

    def __init__(self) -> None:
        self.epoch: int | None = None
        self.seq = 0
        self.pending: dict[int, dict[str, Any]] = {}
        self.delivered: list[tuple[int, int]] = []  # (epoch, seq)
        self.copies = 0  # received again after delivery: dropped
        self.hole_since: float | None = None  # events wait behind a missing one since then

    def received(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.epoch = self.epoch or event["epoch"]  # the publisher starts after every client subscribed
            if event["epoch"] != self.epoch or event["seq"] <= self.seq or event["seq"] in self.pending:
                self.copies += 1
                continue
            self.pending[event["seq"]] = event
        before = self.seq
        while (event := self.pending.pop(self.seq + 1, None)) is not None:
            self.seq += 1
            self.delivered.append((event["epoch"], event["seq"]))
        if not self.pending:
            self.hole_since = None
        elif self.hole_since is None or self.seq > before:  # a new hole, or progress: wait again
            self.hole_since = time.monotonic()

    def stalled(self) -> str | None:
        if self.hole_since is None or time.monotonic() - self.hole_since < GAP_WAIT_S:
            return None
        self.hole_since = time.monotonic()  # asked: wait as long again before the next request
        return self.on_connect()

    def on_connect(self) -> str | None:
        if self.epoch is None:
            return None  # nothing received yet: the plain subscribe the fleet sends is the whole story
        return "42" + json.dumps(["subscribe", {"room": ROOM, "since": self.seq, "epoch": self.epoch}])


def nginx_failures(log_dir: Path, since: int) -> tuple[int, int]:
    """(access log lines answered 5xx, error log lines where nginx could not reach an instance), from offset `since`
    of the access log (the deploy's own verify requests are in it too)."""
    access = (log_dir / "access.log").read_text().splitlines()[since:]
    errors = (log_dir / "error.log").read_text().splitlines()
    return (sum(1 for line in access if re.search(r'" 5\d\d ', line)),
            sum(1 for line in errors if UPSTREAM_FAILURE.search(line)))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def deploy(local: LocalDeployment, env: dict[str, str], **sections: dict) -> float:
    started = time.monotonic()
    result = local.deploy(profile=local.write(**sections), env=env)
    if result.returncode != 0:
        raise SystemExit(f"deploy failed:\n{result.stdout}\n{result.stderr}")
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="events per second")
    parser.add_argument("--keep", type=Path, help="deploy under this directory and keep it (logs) afterwards")
    args = parser.parse_args()
    token = secrets.token_hex(16)
    env = {**os.environ, TOKEN_VARIABLE: token}
    # Two nginx connections per client, in the new workers and the old ones at once during a reload.
    sections: dict[str, dict] = {
        "server": {"publish_token_env": TOKEN_VARIABLE},
        "proxy": {"worker_connections": 4 * args.clients + 512, "worker_shutdown_timeout": 5},
        "socketio": {"history_limit": 10_000, "max_http_buffer_size": 100_000},
    }
    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.keep or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        local = local_deployment(workdir)
        try:
            deploy(local, env, **sections)
            run(local, env, sections, args)
        finally:
            local.stop()


def run(local: LocalDeployment, env: dict[str, str], sections: dict[str, dict], args: argparse.Namespace) -> None:
    release = current_release(local.layout)
    log_dir = Path(release.model["proxy"]["log_dir"])
    port = release.model["site"]["https_port"]
    rooms = [Ordered() for _ in range(args.clients)]
    fleet = RunningFleet(Fleet(f"wss://localhost:{port}/socket.io/?EIO=4&transport=websocket", local.https_url,
                               args.clients, delay=(0.25, 2.0), room=ROOM, events=rooms)).start()
    stop = Path(local.root.parent / "stop")
    publisher = None
    try:
        if not fleet.wait_connected(120):
            raise SystemExit(f"only {fleet.tally.connected_now} of {args.clients} clients connected")
        time.sleep(2)  # every client's subscribe is answered before the first event
        access_before = len((log_dir / "access.log").read_text().splitlines())
        server = release.model["server"]
        publisher = subprocess.Popen([sys.executable, str(LOAD), "publish", ROOM, "--rate", str(args.rate),
                                      "--urls", ",".join(f"http://127.0.0.1:{p}" for p in server["ports"]),
                                      "--token", env[TOKEN_VARIABLE], "--stop", str(stop),
                                      "--redis", server["message_queue"], "--name", release.model["name"],
                                      "--out", str(local.root.parent / "publisher.json")])
        time.sleep(3)
        attempts_before = fleet.tally.attempts
        deploy_s = deploy(local, env, **{**sections, "socketio": {**sections["socketio"], "ping_interval": 20}})
        time.sleep(7)  # old nginx workers close what they still hold (worker_shutdown_timeout 5 s)
        stop.touch()
        publisher.wait(60)
        history = json.loads((local.root.parent / "publisher.json").read_text())["truth"]
        truth = [(epoch, seq) for epoch, seq, _ in history]
        deadline = time.monotonic() + 30
        while any(len(room.delivered) < len(truth) for room in rooms) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        if publisher and publisher.poll() is None:
            publisher.kill()
        tally = fleet.stop()
    answered_5xx, unreachable = nginx_failures(log_dir, access_before)
    lost = sum(len(set(truth) - set(room.delivered)) for room in rooms)
    duplicates = sum(len(room.delivered) - len(set(room.delivered)) for room in rooms)
    out_of_order = sum(room.delivered != sorted(room.delivered) for room in rooms)
    served = tally.served_again_s
    print(f"{args.clients} clients, {len(truth)} events at {args.rate:g}/s, deploy {deploy_s:.1f} s "
          f"(every instance restarted, drained)")
    print(f"events lost {lost}, duplicates delivered {duplicates}, clients out of order {out_of_order}, "
          f"copies dropped by clients {sum(room.copies for room in rooms)}")
    print(f"connection attempts {tally.attempts - attempts_before} during and after the deploy, failed "
          f"{dict(tally.failures) or 0}; nginx: {answered_5xx} answered 5xx, {unreachable} upstream failures")
    print(f"disconnects {dict(tally.disconnects)}; reconnect time (disconnect to next pong) p50 "
          f"{percentile(served, 0.5):.2f} s, p99 {percentile(served, 0.99):.2f} s, max {max(served, default=0):.2f} s")
    print(f"load client CPU {fleet.cpu_s:.1f} s (one process, aiohttp)")


if __name__ == "__main__":
    main()
