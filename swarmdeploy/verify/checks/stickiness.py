"""A polling session is many HTTP requests; every one must reach the instance that holds it."""

from __future__ import annotations

import time

from swarmdeploy.verify.engineio import EngineIOError, PollingSession
from swarmdeploy.verify.result import Observation, Status
from swarmdeploy.verify.target import Target

SESSIONS = 4
PINGS_PER_SESSION = 4


def run(target: Target) -> list[Observation]:
    instances_seen: set[str] = set()
    requests = lost = 0
    for _ in range(SESSIONS):
        session = PollingSession(target)
        try:
            session.open()
            session.connect_socketio(target.auth)
            requests += 3
            for number in range(PINGS_PER_SESSION):
                pong = session.call_ping({"check": "stickiness", "n": number}, time.monotonic() + target.timeout)
                instances_seen.add(str(pong.get("instance")))
                requests += 2
            session.close()
        except EngineIOError as error:
            if not error.session_unknown:
                raise
            lost += 1
    expected = target.expect("server.instances")
    seen = f"instances that answered: {len(instances_seen)}" + (f" of {expected}" if expected else "")
    if lost:
        return [Observation("session ID", Status.FAIL,
                            f"{lost} of {SESSIONS} polling sessions met 400 'Session ID unknown' ({seen})",
                            "pin each client to one instance: proxy.sticky: ip_hash (nginx upstream) or the "
                            "balancer's cookie stickiness; or use socketio.transports: [websocket]")]
    note = " (one client address is pinned to one instance)" if expected and len(instances_seen) < expected else ""
    return [Observation("session ID", Status.PASS,
                        f"{SESSIONS} sessions, about {requests} requests, none lost; {seen}{note}")]
