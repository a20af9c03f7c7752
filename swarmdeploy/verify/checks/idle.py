"""An idle client must outlive every idle timeout on the path (--soak SECONDS): a WebSocket, and at the
same time a polling session, whose long-poll GETs each wait up to pingInterval for the server's ping
(a proxy timeout below that answers them 504 while WebSockets, under a tunnel timeout, live on)."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import websockets

from swarmdeploy.verify.engineio import EngineIOError, PollingSession, SocketIOWebSocket, decode_event
from swarmdeploy.verify.result import Observation, Status
from swarmdeploy.verify.target import Target

# The idle timeouts each transport meets on a balancer, named as the profile names them.
BALANCER_TIMEOUTS = {
    ("haproxy", "websocket"): "load_balancer.timeout_tunnel (HAProxy's timeout tunnel)",
    ("haproxy", "polling"): "load_balancer.timeout_server and load_balancer.timeout_client (HAProxy's timeout "
                            "server and timeout client)",
    ("alb", "websocket"): "load_balancer.idle_timeout (the ALB's idle timeout)",
    ("alb", "polling"): "load_balancer.idle_timeout (the ALB's idle timeout)",
}
PONG_REQUEST = "42" + json.dumps(["ping", {"check": "idle"}])


def _fix(target: Target, transport: str) -> str:
    if transport == "polling":
        seconds = target.expect("socketio.ping_interval")
        waits = "a long-poll GET waits up to pingInterval for the server's ping, so every idle timeout on the path " \
                "must exceed it" + (f" ({seconds} s, socketio.ping_interval)" if seconds else "")
    else:
        seconds = target.expect("socketio.ping_total")
        waits = "an idle timeout on the path is shorter than ping_interval + ping_timeout" + (
            f" ({seconds} s)" if seconds else "")
    nginx = "nginx proxy_read_timeout/proxy_send_timeout (proxy.read_timeout, proxy.send_timeout)"
    if target.through_balancer:
        return f"{waits}: raise {BALANCER_TIMEOUTS[(target.expect('load_balancer.kind'), transport)]} and {nginx}"
    return f"{waits}: raise {nginx}, and the idle timeout of any balancer in front"


async def _hold_websocket(target: Target) -> Observation:
    """Idle for the soak, answering heartbeats only, then a ping must still get its pong."""
    client = SocketIOWebSocket(target)
    await client.connect(target.auth)
    started = time.monotonic()
    try:
        deadline = started + target.soak
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                packet = await asyncio.wait_for(client.socket.recv(), remaining)
            except TimeoutError:
                break
            if packet == "2":  # answer heartbeats, as every client does; send nothing else
                await client.socket.send("3")
        await client.emit("ping", {"check": "idle"})
        await client.wait_event("pong", target.timeout)
        return Observation("WebSocket soak", Status.PASS, f"idle for {target.soak:.0f} s, still answering")
    except websockets.ConnectionClosed:
        return Observation("WebSocket soak", Status.FAIL,
                           f"the connection closed after {time.monotonic() - started:.1f} s idle",
                           _fix(target, "websocket"))
    finally:
        await client.close()


def _ask_for_pong(session: PollingSession) -> None:
    """At the soak's end: a ping event answers the pending long-poll at once, so the hold ends on time."""
    try:
        session.send(PONG_REQUEST)
    except (EngineIOError, OSError):
        pass  # the pending GET reports what went wrong


def _long_polls(session: PollingSession, until: float, wait: float) -> bool:
    """Long-poll GETs, answering the server's pings, until the pong asked for; False when it never came."""
    while time.monotonic() < until:
        for packet in session.receive(timeout=wait):
            if packet == "2":
                session.send("3")
            event = decode_event(packet)
            if event and event[0] == "pong":
                return True
    return False


def _hold_polling(target: Target) -> Observation:
    session = PollingSession(target)
    try:
        handshake = session.open()
        session.connect_socketio(target.auth)
    except EngineIOError as error:
        if error.transport_refused:
            return Observation("polling soak", Status.SKIP, "the server refuses polling: nothing to hold")
        return Observation("polling soak", Status.FAIL, f"no polling session to hold: {error}",
                           "see the polling and stickiness checks")
    # A GET waits up to pingInterval; the server drops a session silent for pingInterval + pingTimeout.
    wait = (handshake["pingInterval"] + handshake["pingTimeout"]) / 1000 + target.timeout
    nudge = threading.Timer(target.soak, _ask_for_pong, (session,))
    started = time.monotonic()
    nudge.start()
    try:
        answered = _long_polls(session, started + target.soak + wait, wait)
    except (EngineIOError, OSError) as error:
        return Observation("polling soak", Status.FAIL, f"{error}, after {time.monotonic() - started:.1f} s idle",
                           _fix(target, "polling"))
    finally:
        nudge.cancel()
        session.close()
    if not answered:
        return Observation("polling soak", Status.FAIL, "no pong over polling after the soak", _fix(target, "polling"))
    return Observation("polling soak", Status.PASS, f"long-polled for {target.soak:.0f} s, still answering")


async def _hold(target: Target) -> list[Observation]:
    holds = [_hold_websocket(target)]
    if "polling" in target.expect("socketio.transports", ["polling"]):
        holds.append(asyncio.to_thread(_hold_polling, target))
    return list(await asyncio.gather(*holds))


def run(target: Target) -> list[Observation]:
    ping_total = target.expect("socketio.ping_total")
    if target.soak <= 0:
        hint = f" (longer than the shortest proxy timeout; the profile's pings span {ping_total} s)" if ping_total else ""
        return [Observation("soak", Status.SKIP, f"not run: pass --soak SECONDS{hint}")]
    return asyncio.run(_hold(target))
