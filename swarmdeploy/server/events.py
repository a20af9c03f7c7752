"""Socket.IO event handlers: connect/auth, ping, rooms (subscribe resumes, see resume.py), publish, history.

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
from swarmdeploy.server.ping import answer_pings_directly
from swarmdeploy.server.queue import UNREACHABLE, QueueUnreachable
from swarmdeploy.server.resume import REPLAY_MAX, resume

# Room and event names reach logs and Redis keys' payloads: keep them short and plain.
NAME = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
ROOM_ERROR = "room must be 1-64 letters, digits or . _ : -"
QUEUE_DOWN_ON_SUBSCRIBE = (f"{UNREACHABLE['error']}: joined the room, but its history position is unknown; "
                           "subscribe again (with since/epoch to resume) after retry_after seconds")


def token_matches(expected: str | None, given: Any) -> bool:
    return expected is None or (isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode()))


def _count(value: Any) -> int | None:
    """A sequence number, epoch or limit: a whole number JavaScript holds exactly (a bool is not one)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53 else None


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
    def disconnect(*reason: Any) -> None:
        metrics.client_disconnected(*reason)  # python-socketio 5.12+ passes engineio's reason

    def pong(payload: Any) -> dict[str, Any]:
        metrics.pongs_sent += 1
        return {"payload": payload, "time": time.time(), "instance": instance}

    def ping(sid: str, payload: Any = None) -> dict[str, Any]:
        answer = pong(payload)
        # To the asking client, which is on this instance: the message queue has nothing to carry,
        # and pings keep answering while Redis is down or hung (tests/server/test_server_queue.py).
        socketio.server.emit("pong", answer, to=sid, ignore_queue=True)
        return answer

    # The latency probe goes straight to python-socketio: Flask-SocketIO would build a Flask
    # request context per event, which cost more CPU than the whole round trip (docs/benchmarks.md).
    socketio.server.on("ping", ping)
    answer_pings_directly(socketio.server, pong)  # its common form skips python-socketio's dispatch too

    @socketio.on("subscribe")
    def subscribe(data: Any) -> dict[str, Any]:
        """{room}: join, and answer the room's position; {room, since, epoch}: join and resume (resume.py)."""
        room = _name(data, "room")
        if room is None:
            return {"ok": False, "error": ROOM_ERROR}
        resuming = isinstance(data, dict) and "since" in data
        since, epoch = (_count(data.get("since")), _count(data.get("epoch"))) if resuming else (0, None)
        if since is None or (resuming and not epoch):
            return {"ok": False, "error": "resume needs {room, since: the last seq you have, epoch: its epoch}"}
        # Joined before history is read: an event published in between arrives both live and replayed,
        # and the client drops the copy; read first, it could arrive in neither.
        join_room(room)
        try:
            if not resuming:
                window = history.window(room, None, 0, 0)
                return {"ok": True, "room": room, "instance": instance, "epoch": window.epoch, "seq": window.head}
            missed = resume(history, room, epoch, since)
        except QueueUnreachable:
            # History lives in Redis: no position to give and nothing to replay, but the client stays in the room
            # (publishing is refused meanwhile, so it misses nothing) and asks again for its position later.
            return {**UNREACHABLE, "room": room, "joined": True, "error": QUEUE_DOWN_ON_SUBSCRIBE}
        # Straight to this client, ahead of the answer: resync first, then the replay, in that order.
        if missed.resync:
            socketio.server.emit("resync", missed.resync, to=request.sid, ignore_queue=True)
        if missed.events:
            socketio.server.emit("batch", {"room": room, "events": missed.events, "replay": True}, to=request.sid,
                                 ignore_queue=True)
        return {"ok": True, "room": room, "instance": instance, "epoch": missed.epoch, "seq": missed.head,
                "replayed": len(missed.events)}

    @socketio.on("unsubscribe")
    def unsubscribe(data: Any) -> dict[str, Any]:
        room = _name(data, "room")
        if room is None:
            return {"ok": False, "error": ROOM_ERROR}
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
        return {"ok": True, "seq": record["seq"], "epoch": record["epoch"]}

    @socketio.on("history")
    def recent(data: Any) -> dict[str, Any]:
        """The room's retained events after `since`, oldest first, without joining it."""
        room = _name(data, "room")
        since = _count(data.get("since", 0)) if isinstance(data, dict) else 0
        limit = _count(data.get("limit", REPLAY_MAX)) if isinstance(data, dict) else REPLAY_MAX
        if room is None or since is None or limit is None:
            return {"ok": False, "error": "history needs {room, since: seq, limit?}"}
        window = history.window(room, None, since, min(limit, REPLAY_MAX))
        return {"ok": True, "room": room, "epoch": window.epoch, "seq": window.head, "events": window.events}

    @socketio.on_error_default
    def on_error(error: Exception) -> dict[str, Any]:
        if isinstance(error, ConnectionRefusedError):
            raise error  # the default handler sees connect too; a refusal must reach the client
        if isinstance(error, QueueUnreachable):
            return dict(UNREACHABLE)  # publish, history: not logged per event, /healthz shows the outage
        socketio.server.logger.exception("handler failed for %s", request.sid)
        return {"ok": False, "error": "internal error"}
