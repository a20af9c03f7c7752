"""A polling session is many HTTP requests; every one must reach the instance that holds it. Through
a balancer that means its stickiness cookie, which this client keeps as a browser does."""

from __future__ import annotations

import time

from swarmdeploy.verify.engineio import EngineIOError, PollingSession
from swarmdeploy.verify.result import Observation, Status
from swarmdeploy.verify.target import Target

SESSIONS = 4
PINGS_PER_SESSION = 4


def _fix(target: Target) -> str:
    if target.through_balancer:
        return ("pin each client to one host: load_balancer.stickiness: cookie, then apply the rendered balancer "
                "(the haproxy target's `cookie ... insert` and each server's `cookie NAME`, or the ALB's lb_cookie); "
                "or use socketio.transports: [websocket]")
    return ("pin each client to one instance: proxy.sticky: ip_hash (nginx upstream) or the balancer's cookie "
            "stickiness; or use socketio.transports: [websocket]")


def _cookie_note(target: Target, pins: set[str]) -> str:
    if not target.through_balancer or target.expect("load_balancer.stickiness") != "cookie":
        return ""
    name = target.expect("load_balancer.cookie_name")
    if not pins:
        return f"; the balancer set no {name} cookie"
    return f"; the balancer's cookie {name} pinned them to {', '.join(sorted(pins))}"


def run(target: Target) -> list[Observation]:
    instances_seen: set[str] = set()
    pins: set[str] = set()  # values of the balancer's stickiness cookie: the hosts the sessions stayed on
    requests = lost = 0
    cookie_name = target.expect("load_balancer.cookie_name")
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
        if cookie_name in session.cookies:
            pins.add(session.cookies[cookie_name].split("|")[0])  # HAProxy appends |dates with maxlife
    expected = target.expect("server.instances")
    seen = f"instances that answered: {', '.join(sorted(instances_seen)) or 'none'}" if target.through_balancer \
        else f"instances that answered: {len(instances_seen)}" + (f" of {expected}" if expected else "")
    if lost:
        return [Observation("session ID", Status.FAIL,
                            f"{lost} of {SESSIONS} polling sessions met 400 'Session ID unknown' ({seen})"
                            f"{_cookie_note(target, pins)}", _fix(target))]
    note = " (one client address is pinned to one instance)" if expected and len(instances_seen) < expected \
        and not target.through_balancer else ""
    return [Observation("session ID", Status.PASS,
                        f"{SESSIONS} sessions, about {requests} requests, none lost; {seen}{note}"
                        f"{_cookie_note(target, pins)}")]
