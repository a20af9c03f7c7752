"""Every instance of the deployment as the status page shows it (GET /api/instances).

With a message queue each instance writes a small record into Redis every HEARTBEAT seconds (one hash
per deployment), so whichever instance answers lists them all; without one, the instance answers for
itself. A record holds what an operator needs and nothing a visitor must not see: no pid, host name,
version, queue address or token. Instances are told apart by a digest of name@host:port and by port.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

import redis
from flask_socketio import SocketIO

from swarmdeploy.server.config import ServerConfig
from swarmdeploy.server.metrics import Metrics
from swarmdeploy.server.queue import MessageQueue, connect

HEARTBEAT = 2.0  # seconds between an instance's reports
SILENT_AFTER = 3 * HEARTBEAT  # a record this old: the instance stopped reporting (killed, hung, cut off)
FORGET_AFTER = 60.0  # and this old: removed, so a host taken away does not stay listed


def public_id(instance_id: str) -> str:
    """Stable across restarts of one unit, and says nothing about the host."""
    return hashlib.sha256(instance_id.encode()).hexdigest()[:8]


def health(queue: MessageQueue | None) -> tuple[str, dict[str, Any] | None]:
    """"ok" or "degraded" (the queue does not answer, or the listener is reconnecting), and the queue state."""
    state = queue.status() if queue else None
    healthy = state is None or (state["reachable"] and state["listener"] != "reconnecting")
    return ("ok" if healthy else "degraded"), state


class Roster:
    def __init__(self, config: ServerConfig, metrics: Metrics, queue: MessageQueue | None) -> None:
        self.metrics = metrics
        self.queue = queue
        self.id = public_id(config.instance_id)
        self.port = config.port
        self._started = time.monotonic()
        self._redis = connect(queue.url) if queue else None
        self._key = f"swarmdeploy:{config.name}:instances"

    def record(self) -> dict[str, Any]:
        """This instance now, as every visitor may see it."""
        status, state = health(self.queue)
        queue = {"reachable": state["reachable"], "listener": state["listener"]} if state else None
        return {"id": self.id, "port": self.port, "status": status, "clients": self.metrics.clients,
                "queue": queue, "uptime": round(time.monotonic() - self._started, 1), "seen": time.time()}

    def start(self, socketio: SocketIO) -> None:
        if self._redis is not None:
            socketio.start_background_task(self._report_forever, socketio)

    def _report_forever(self, socketio: SocketIO) -> None:
        while True:
            try:
                self._redis.hset(self._key, self.id, json.dumps(self.record()))
            except redis.RedisError as error:  # the queue is down: /healthz and the page say so already
                logging.getLogger(__name__).debug("instance report failed: %s", error)
            socketio.sleep(HEARTBEAT)

    def all(self) -> dict[str, Any]:
        """Every instance that reported in the last FORGET_AFTER seconds, this one as it is now;
        `complete` is false when the others could not be read (the queue does not answer)."""
        now = time.time()
        records, complete = {self.id: self.record()}, True
        if self._redis is not None:
            try:
                stored = [json.loads(raw) for raw in self._redis.hgetall(self._key).values()]
                gone = [r["id"] for r in stored if now - r["seen"] > FORGET_AFTER]
                if gone:
                    self._redis.hdel(self._key, *gone)
            except redis.RedisError:
                stored, gone, complete = [], [], False
            records.update((r["id"], r) for r in stored if r["id"] not in gone and r["id"] != self.id)
        listed = []
        for record in records.values():
            age = max(0.0, now - record.pop("seen"))
            listed.append({**record, "age": round(age, 1), "silent": age > SILENT_AFTER,
                           "self": record["id"] == self.id})
        listed.sort(key=lambda r: (r["port"], r["id"]))
        return {"instances": listed, "complete": complete}
