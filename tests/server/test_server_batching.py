"""Batching and the history bound, on a real gunicorn instance."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from server_stack import start_instances, write_profile

from conftest import require_tool

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _gunicorn():
    require_tool("gunicorn")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def test_events_within_the_interval_leave_as_one_batch(supervisor, connect, tmp_path):
    profile = write_profile(tmp_path, socketio={"batching": {"interval": 1.0, "max_size": 10}})
    url = start_instances(supervisor, profile).instances[0].url
    reader, writer = connect(url, ["websocket"]), connect(url, ["websocket"])
    assert reader.call("subscribe", {"room": "b"})["ok"]

    started = time.monotonic()
    for n in range(25):
        writer.sio.emit("publish", {"room": "b", "data": n})
    batches = reader.batch_events(25, timeout=10)
    finished = time.monotonic() - started
    # Two full batches go at once; the remaining 5 wait for the interval, then go together.
    assert sorted(len(b["events"]) for b in batches) == [5, 10, 10]
    assert sorted(e["data"] for b in batches for e in b["events"]) == list(range(25))
    assert 0.8 <= finished < 5
    # A later event opens a new batch rather than joining a sent one.
    writer.call("publish", {"room": "b", "data": "late"})
    assert [[e["data"] for e in b["events"]] for b in reader.batch_events(1, timeout=5)] == [["late"]]


def test_history_stays_bounded_after_100000_events(supervisor, connect, tmp_path):
    limit = 1000
    profile = write_profile(tmp_path, socketio={"history_limit": limit, "batching": {"interval": 0.05, "max_size": 100}})
    instance = start_instances(supervisor, profile).instances[0]
    worker = instance.health()["pid"]
    writer = connect(instance.url, ["websocket"])
    reader = connect(instance.url, ["websocket"])
    assert reader.call("subscribe", {"room": "h"})["ok"]

    def publish(count: int) -> None:
        for chunk in range(0, count, 1000):
            for n in range(chunk, chunk + 999):
                writer.sio.emit("publish", {"room": "h", "data": n})
            # A round trip per 1000 events keeps the client from outrunning the server.
            assert writer.call("publish", {"room": "h", "data": chunk + 999}, timeout=30)["ok"]

    publish(10_000)  # warm-up: history full, allocator pools in use
    before = rss_kib(worker)
    publish(100_000)
    after = rss_kib(worker)

    history = reader.call("history", {"room": "h", "since": 0, "limit": 100_000})["events"]
    assert len(history) == limit
    seqs = [e["seq"] for e in history]
    assert seqs == sorted(seqs) and seqs[-1] - seqs[0] == limit - 1
    # 100,000 retained events would take tens of MB; the bound keeps growth to noise.
    assert after - before < 8 * 1024, f"RSS grew from {before} KiB to {after} KiB"
    print(f"worker RSS before {before} KiB, after 100,000 more events {after} KiB")
