"""Socket.IO event handlers: connect/auth, ping, rooms, publish, history.

Handlers return their answer as the acknowledgement, so clients may use `call()`; `ping`
additionally emits `pong`, which is what browsers and the benchmark listen for.
"""

from __future__ import annotations

import hmac
import re
import time
from typing import Any

from flask import request
from flask_socketio import ConnectionRefusedError, SocketIO, join_room, leave_room

from swarmdeploy.server.broadcast import Publisher
from swarmdeploy.server.config import ServerConfig
from swarmdeploy.server.history import History
from swarmdeploy.server.metrics import Metrics
from swarmdeploy.server.queue import UNREACHABLE, QueueUnreachable

# Room and event names reach logs and Redis keys' payloads: keep them short and plain.
NAME = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
HISTORY_MAX = 1000  # most events one history request returns


def token_matches(expected: str | None, given: Any) -> bool:
    return expected is None or (isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode()))


def _name(data: Any, key: str, default: str | None = None) -> str | None:
    value = data.get(key, default) if isinstance(data, dict) else (data if key == "room" else default)
    return value if isinstance(value, str) and NAME.match(value) else None


def register_events(socketio: SocketIO, config: ServerConfig, metrics: Metrics, publisher: Publisher,
                    history: History) -> None:
    instance = config.instance_id

    @socketio.on("connect")
    def connect(auth: Any = None) -> None:
        if not token_matches(config.auth_token, (auth or {}).get("token") if isinstance(auth, dict) else None):
            metrics.handshake_errors.labels("auth").inc()
            raise ConnectionRefusedError("unauthorized: send auth={token: ...}")
        metrics.client_connected()

    @socketio.on("disconnect")
    def disconnect(*_reason: Any) -> None:
        metrics.client_disconnected()

    pongs = metrics.emitted.labels("pong")

    def ping(sid: str, payload: Any = None) -> dict[str, Any]:
        answer = {"payload": payload, "time": time.time(), "instance": instance}
        pongs.inc()
        # To the asking client, which is on this instance: the message queue has nothing to carry,
        # and pings keep answering while Redis is down or hung (tests/server/test_server_queue.py).
        socketio.server.emit("pong", answer, to=sid, ignore_queue=True)
        return answer

    # The latency probe goes straight to python-socketio: Flask-SocketIO would build a Flask
    # request context per event, which cost more CPU than the whole round trip (docs/benchmarks.md).
    socketio.server.on("ping", ping)

    @socketio.on("subscribe")
    def subscribe(data: Any) -> dict[str, Any]:
        room = _name(data, "room")
        if room is None:
            return {"ok": False, "error": "room must be 1-64 letters, digits or . _ : -"}
        join_room(room)
        return {"ok": True, "room": room, "instance": instance}

    @socketio.on("unsubscribe")
    def unsubscribe(data: Any) -> dict[str, Any]:
        room = _name(data, "room")
        if room is None:
            return {"ok": False, "error": "room must be 1-64 letters, digits or . _ : -"}
        leave_room(room)
        return {"ok": True, "room": room}

    @socketio.on("publish")
    def publish(data: Any) -> dict[str, Any]:
        room, event = _name(data, "room"), _name(data, "event", "message")
        if room is None or event is None:
            return {"ok": False, "error": "publish needs {room, event?, data}: names of 1-64 letters, digits, . _ : -"}
        if not token_matches(config.publish_token, data.get("token")):
            return {"ok": False, "error": "publishing needs the publish token"}
        record = publisher.publish(room, event, data.get("data"))
        return {"ok": True, "seq": record["seq"]}

    @socketio.on("history")
    def recent(data: Any) -> dict[str, Any]:
        room = _name(data, "room")
        since = data.get("since", 0) if isinstance(data, dict) else 0
        limit = data.get("limit", HISTORY_MAX) if isinstance(data, dict) else HISTORY_MAX
        if room is None or not isinstance(since, int) or not isinstance(limit, int):
            return {"ok": False, "error": "history needs {room, since: seq, limit?}"}
        return {"ok": True, "events": history.since(room, since, max(0, min(limit, HISTORY_MAX)))}

    @socketio.on_error_default
    def on_error(error: Exception) -> dict[str, Any]:
        if isinstance(error, ConnectionRefusedError):
            raise error  # the default handler sees connect too; a refusal must reach the client
        if isinstance(error, QueueUnreachable):
            return dict(UNREACHABLE)  # publish, history: not logged per event, /healthz shows the outage
        socketio.server.logger.exception("handler failed for %s", request.sid)
        return {"ok": False, "error": "internal error"}
