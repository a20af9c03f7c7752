"""Long-polling alone must work: the fallback for networks that block WebSocket."""

from __future__ import annotations

import time

from swarmdeploy.verify.engineio import SESSION_MOVED, EngineIOError, PollingSession
from swarmdeploy.verify.result import Observation, Status
from swarmdeploy.verify.target import Target


def run(target: Target) -> list[Observation]:
    if "polling" not in target.expect("socketio.transports", ["polling"]):
        return [Observation("polling", Status.SKIP, "the profile turns polling off (socketio.transports)")]
    session = PollingSession(target)
    try:
        session.open()
    except EngineIOError as error:
        fix = ("the server refuses polling: deploy the rendered environment file (SWARMDEPLOY_TRANSPORTS) so it "
               "matches socketio.transports, and restart") if error.transport_refused else \
            f"make {target.socketio_path}/ reach the instances"
        return [Observation("polling handshake", Status.FAIL, str(error), fix)]
    observations = [Observation("polling handshake", Status.PASS, f"sid {session.sid[:6]}... over polling")]
    try:
        session.connect_socketio(target.auth)
        started = time.monotonic()
        pong = session.call_ping({"check": "polling"}, started + target.timeout)
        session.close()
    except EngineIOError as error:
        if error.session_unknown:
            return observations + [Observation("ping over polling", Status.SKIP, SESSION_MOVED)]
        return observations + [Observation("ping over polling", Status.FAIL, str(error),
                                           "see the server's log for the refused request")]
    elapsed = (time.monotonic() - started) * 1000
    return observations + [Observation("ping over polling", Status.PASS,
                                       f"pong from {pong.get('instance')} in {elapsed:.0f} ms")]
