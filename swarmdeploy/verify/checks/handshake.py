"""The Engine.IO handshake: open packet, sid, EIO=4, and ping settings as the profile says.

Over polling, as a browser starts; when the server refuses polling (that is the polling check's
finding) the open packet of a direct WebSocket is examined instead.
"""

from __future__ import annotations

import asyncio
from typing import Any

from swarmdeploy.verify.engineio import EngineIOError, PollingSession, SocketIOWebSocket
from swarmdeploy.verify.fleet import BALANCER_ERRORS, NO_HOST_IN_SERVICE
from swarmdeploy.verify.result import Observation, Status
from swarmdeploy.verify.target import Target


async def _websocket_open_packet(target: Target) -> dict[str, Any]:
    client = SocketIOWebSocket(target)
    try:
        return await client.open()
    finally:
        await client.close()


def open_packet(target: Target) -> tuple[dict[str, Any], str]:
    session = PollingSession(target)
    try:
        handshake = session.open()
        session.close()
        return handshake, "polling"
    except EngineIOError as error:
        if not error.transport_refused:
            raise
    return asyncio.run(_websocket_open_packet(target)), "websocket (the server refuses polling)"


PING_SETTINGS = (("pingInterval", "socketio.ping_interval"), ("pingTimeout", "socketio.ping_timeout"))


def _ping_pairs(target: Target, handshake: dict[str, Any]) -> list[tuple[str, str, Any, int | None]]:
    """(field, profile key, what the server sent, what the profile says in ms or None) per ping setting."""
    return [(field, key, handshake.get(field), None if target.expect(key) is None else target.expect(key) * 1000)
            for field, key in PING_SETTINGS]


def ping_mismatches(target: Target, handshake: dict[str, Any]) -> list[str]:
    """Each ping setting a server runs unlike the profile: 'pingInterval 10000 ms, the profile says 25000 ms'."""
    return [f"{field} {seen} ms, the profile says {expected} ms"
            for field, _, seen, expected in _ping_pairs(target, handshake) if expected is not None and seen != expected]


def _compare_ping(handshake: dict[str, Any], target: Target) -> list[Observation]:
    observations = []
    for field, key, seen, expected in _ping_pairs(target, handshake):
        if expected is None:
            observations.append(Observation(field, Status.PASS, f"{seen} ms (no profile to compare with)"))
        elif seen == expected:
            observations.append(Observation(field, Status.PASS, f"{seen} ms, as the profile says"))
        else:
            observations.append(Observation(
                field, Status.FAIL, f"{seen} ms, but the profile says {expected} ms",
                f"the server does not run with this profile's settings: deploy the rendered environment file "
                f"(SWARMDEPLOY_{field.replace('ping', 'PING_').upper()}) and restart, or set {key}: {seen // 1000}"))
    return observations


def run(target: Target) -> list[Observation]:
    try:
        handshake, transport = open_packet(target)
    except EngineIOError as error:
        if error.status == 400 and "unsupported version" in error.body:
            fix = "the server does not speak Engine.IO 4: upgrade python-engineio to 4.x (Flask-SocketIO 5)"
        elif target.through_balancer and error.status in BALANCER_ERRORS:
            fix = NO_HOST_IN_SERVICE
        else:
            fix = f"make {target.socketio_path}/ reach the instances (nginx location, instances running)"
        return [Observation("open packet", Status.FAIL, str(error), fix)]
    except (OSError, ValueError) as error:
        return [Observation("open packet", Status.FAIL, f"no handshake: {error}",
                            f"make {target.socketio_path}/ reach the instances (nginx location, instances running)")]
    observations = [Observation("open packet", Status.PASS,
                                f"EIO=4 open packet over {transport}, sid {handshake['sid'][:6]}...")]
    return observations + _compare_ping(handshake, target)
