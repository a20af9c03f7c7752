"""A polling session is many HTTP requests; every one must reach the instance that holds it. Through
a balancer that means its stickiness cookie, which this client keeps as a browser does."""

from __future__ import annotations

import time

from swarmdeploy.verify.checks.hosts import balancer_state_hint
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


def _names_hosts(target: Target) -> bool:
    """HAProxy's stickiness cookie names the host that served the session (`SWARMSRV=web-a|...`); the ALB's is
    opaque."""
    return (target.through_balancer and target.expect("load_balancer.kind") == "haproxy"
            and target.expect("load_balancer.stickiness") == "cookie")


def _pin(target: Target, session: PollingSession) -> str | None:
    value = session.cookies.get(target.expect("load_balancer.cookie_name"))
    return value.split("|")[0] if value else None  # HAProxy appends |dates with maxlife


def _more_pins(target: Target, pins: set[str], listed: list[str]) -> set[str]:
    """Cookie-less handshakes, as new visitors make, until every listed host was named or one round is done."""
    found = set(pins)
    for _ in listed:
        if found >= set(listed):
            break
        session = PollingSession(target)
        try:
            session.open()
        except EngineIOError:
            break  # the sessions above already met what the balancer does now
        session.close()
        if pin := _pin(target, session):
            found.add(pin)
    return found


def _hosts_reached(target: Target, pins: set[str]) -> list[Observation]:
    """A listed host no new session reaches has most likely been taken out by the balancer."""
    if not _names_hosts(target) or not pins:
        return []  # no cookie to read hosts from: the session ID observation says so
    listed = [host["name"] for host in target.expect("load_balancer.hosts")]
    missing = [name for name in listed if name not in _more_pins(target, pins, listed)]
    if not missing:
        return [Observation("hosts reached", Status.PASS, f"new sessions reached every listed host "
                                                          f"({', '.join(listed)})")]
    return [Observation("hosts reached", Status.WARN,
                        f"the balancer sent no session to {', '.join(missing)}: it may have taken "
                        f"{'it' if len(missing) == 1 else 'them'} out",
                        f"see the hosts check; {balancer_state_hint(target)}")]


def _sessions(target: Target) -> tuple[Observation, set[str]]:
    """The polling sessions' observation, and the hosts the balancer's cookie pinned them to."""
    instances_seen: set[str] = set()
    pins: set[str] = set()  # values of the balancer's stickiness cookie: the hosts the sessions stayed on
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
        if pin := _pin(target, session):
            pins.add(pin)
    expected = target.expect("server.instances")
    seen = f"instances that answered: {', '.join(sorted(instances_seen)) or 'none'}" if target.through_balancer \
        else f"instances that answered: {len(instances_seen)}" + (f" of {expected}" if expected else "")
    if lost:
        return Observation("session ID", Status.FAIL,
                           f"{lost} of {SESSIONS} polling sessions met 400 'Session ID unknown' ({seen})"
                           f"{_cookie_note(target, pins)}", _fix(target)), pins
    note = " (one client address is pinned to one instance)" if expected and len(instances_seen) < expected \
        and not target.through_balancer else ""
    return Observation("session ID", Status.PASS,
                       f"{SESSIONS} sessions, about {requests} requests, none lost; {seen}{note}"
                       f"{_cookie_note(target, pins)}"), pins


def run(target: Target) -> list[Observation]:
    observation, pins = _sessions(target)
    return [observation, *_hosts_reached(target, pins)]
