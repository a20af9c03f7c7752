"""The message queue fails under live instances: Redis stopped by PID and started again on the same
port, or paused with SIGSTOP. Instances keep serving their own clients, say the queue is down, and
recover by themselves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import redis
from server_stack import (
    START_TIMEOUT, Instance, Supervisor, free_ports, http_json, start_instances, wait_until, write_profile,
)

from conftest import require_tool

pytestmark = pytest.mark.integration

ROOM = "ops"
TOKEN = "pt"
UNREACHABLE = {"ok": False, "error": "message queue unreachable", "retry_after": 1}


@dataclass
class RedisServer:
    """A Redis that can be started again on its port (server_stack.start_redis picks a new one)."""

    supervisor: Supervisor
    port: int
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        label = f"redis-{self.port}"
        self.process = self.supervisor.start(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.supervisor.directory)], label=label)
        wait_until(lambda: redis.Redis.from_url(self.url, socket_timeout=1).ping(), START_TIMEOUT, "redis",
                   self.process, lambda: self.supervisor.log(label))

    def stop(self) -> None:
        assert self.process is not None
        self.supervisor.stop(self.process)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """SIGSTOP: connections still open, every command hangs, as with a stuck Redis."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.process.pid, signal.SIGCONT)


@pytest.fixture
def redis_server(supervisor: Supervisor) -> RedisServer:
    require_tool("redis-server")
    require_tool("gunicorn")
    server = RedisServer(supervisor, free_ports(1))
    server.start()
    return server


def _http_publish(instance: Instance, data: str) -> tuple[int, dict]:
    try:
        answer = http_json(f"{instance.url}/api/publish", headers={"Authorization": f"Bearer {TOKEN}"},
                           data={"room": ROOM, "data": data})
        return 202, answer
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _received(client, timeout: float = 10) -> list:
    return [e["data"] for b in client.batch_events(1, timeout=timeout) for e in b["events"]]


@pytest.mark.parametrize("async_mode", ["gevent", "threading"])  # the listener: a greenlet, or a thread
def test_queue_outage_is_explicit_and_recovers_without_restarts(supervisor, connect, tmp_path, redis_server,
                                                                async_mode):
    profile = write_profile(tmp_path, instances=2, message_queue=redis_server.url,
                            server={"publish_token_env": "PUBLISH_TOKEN", "async_mode": async_mode, "threads": 20})
    first, second = start_instances(supervisor, profile, extra_env={"PUBLISH_TOKEN": TOKEN}).instances
    publisher, listener = connect(first.url, ["websocket"]), connect(second.url, ["websocket"])
    assert listener.call("subscribe", {"room": ROOM})["ok"]
    before = publisher.call("publish", {"room": ROOM, "data": "before", "token": TOKEN})
    assert _received(listener) == ["before"]
    pids = [instance.health()["pid"] for instance in (first, second)]

    redis_server.stop()
    for instance in (first, second):
        health = wait_until(lambda i=instance: (h := i.health())["queue"]["listener"] == "reconnecting" and h, 5,
                            f"port {instance.port} reporting the queue down")
        assert health["status"] == "degraded" and health["queue"]["reachable"] is False
        assert health["queue"]["url"] == redis_server.url and "refused" in health["queue"]["error"].lower()
    assert publisher.call("publish", {"room": ROOM, "data": "during", "token": TOKEN}) == UNREACHABLE
    assert _http_publish(second, "during") == (503, UNREACHABLE)
    assert publisher.call("history", {"room": ROOM, "since": 0}) == UNREACHABLE
    # Each instance still serves its own clients.
    assert publisher.ping("first")["payload"] == "first" and listener.ping("second")["payload"] == "second"
    # A subscribe still joins the room, and says the position is unknown (history is in Redis); a resume too.
    newcomer = connect(second.url, ["websocket"])
    joined = newcomer.call("subscribe", {"room": ROOM})
    assert joined["ok"] is False and joined["joined"] is True and "position is unknown" in joined["error"], joined
    resumed = newcomer.call("subscribe", {"room": ROOM, "since": before["seq"], "epoch": before["epoch"]})
    assert resumed["joined"] is True and resumed["retry_after"] == 1 and "message queue" in resumed["error"]

    redis_server.start()  # empty: started without persistence, as after a crash
    for instance in (first, second):
        wait_until(lambda i=instance: (h := i.health())["status"] == "ok" and h["queue"]["listener"] == "subscribed",
                   5, f"port {instance.port} back on the queue")
    channel = f"swarmdeploy-{profile.stem}".encode()
    wait_until(lambda: redis.Redis.from_url(redis_server.url).pubsub_numsub(channel) == [(channel, 2)], 5,
               "both instances subscribed in Redis")
    after = publisher.call("publish", {"room": ROOM, "data": "after", "token": TOKEN})
    assert _received(listener) == ["after"]
    assert _received(newcomer) == ["after"]  # joined during the outage
    # Redis came back empty: a new epoch, so a client holding the old numbering is told (a resync) rather
    # than taking the new 1, 2, ... for events it has seen.
    assert after["epoch"] > before["epoch"] and after["seq"] == 1
    resyncs: list[dict] = []
    newcomer.sio.on("resync", resyncs.append)
    answer = newcomer.call("subscribe", {"room": ROOM, "since": before["seq"], "epoch": before["epoch"]})
    assert answer["ok"] and answer["epoch"] == after["epoch"] and answer["seq"] == 1
    wait_until(lambda: resyncs, 5, "the resync")
    assert resyncs == [{"room": ROOM, "from": before["seq"] + 1, "to": 0, "epoch": after["epoch"]}]
    assert _received(newcomer) == ["after"]  # replayed in the new numbering
    assert [instance.health()["pid"] for instance in (first, second)] == pids
    assert first.process.poll() is None and second.process.poll() is None


def test_pings_never_touch_the_queue(supervisor, connect, tmp_path, redis_server):
    """A pong routed through the queue would hang its handler on the paused Redis: no ack."""
    profile = write_profile(tmp_path, message_queue=redis_server.url)
    (instance,) = start_instances(supervisor, profile).instances
    client = connect(instance.url, ["websocket"])
    assert client.call("subscribe", {"room": ROOM})["ok"]

    with redis_server.paused():
        for n in range(3):
            assert client.call("ping", n, timeout=2)["payload"] == n  # the handler returned: its ack
            assert client.pongs.get(timeout=2)["payload"] == n
        # A hung Redis costs a health check the probe timeout, not the balancer's check timeout.
        started = time.monotonic()
        health = instance.health()
        assert time.monotonic() - started < 1 and health["status"] == "degraded"
        assert "timeout" in health["queue"]["error"].lower()
        assert client.call("publish", {"room": ROOM, "data": "stuck"}, timeout=3) == UNREACHABLE

    wait_until(lambda: instance.health()["status"] == "ok", 5, "queue reachable after SIGCONT")
    assert client.call("publish", {"room": ROOM, "data": "resumed"})["ok"]
    assert _received(client) == ["resumed"]
