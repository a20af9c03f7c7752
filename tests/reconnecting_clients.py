"""Many Socket.IO clients that reconnect the way socket.io-client 4 does, for the redeploy-under-load test and
benchmark (tests/test_drain.py, benchmarks/redeploy_under_load.py).

A minimal Engine.IO 4 / Socket.IO 5 client over aiohttp WebSockets, as in benchmarks/socketio_load.py: the
load client's CPU matters on 2 cores (FACTS.md §1b). Each client pings once a second and:

- after a transport close (the WebSocket ends) or a ping timeout reconnects, after socket.io-client's
  randomised, doubling delay; after an "io server disconnect" (a Socket.IO DISCONNECT packet, the server's
  `disconnect()`) it stays away, as socket.io-client does, and is counted;
- counts every connection attempt and every failed one by its cause (`refused`, `http 502`, ...);
- records, for each disconnect, the time until it is served again (its next pong).

Clients bind to source addresses 127.0.X.Y, so nginx's ip_hash (first three octets) spreads them over the
instances and limit_conn (per address) never caps them. The fleet runs in a thread with its own event loop,
so a test can run a deploy meanwhile.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp

CONNECT_TIMEOUT = 10.0
PING_EVERY = 1.0
# socket.io-client 4's defaults: reconnectionDelay 1000 ms doubling up to 5000 ms, randomizationFactor 0.5.
SOCKETIO_DELAY = (1.0, 5.0)


@dataclass
class Tally:
    """What the whole fleet saw. Times are time.monotonic()."""

    attempts: int = 0
    connects: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # failed connection attempts, by cause
    disconnects: Counter[str] = field(default_factory=Counter)  # by reason, as socket.io-client names them
    # An outage: from a disconnect to the next pong. A client can lose its new connection before that pong (it
    # reconnected through an nginx worker that was still draining): two disconnects, one outage.
    outages: int = 0
    served_again_s: list[float] = field(default_factory=list)  # each outage's length
    pongs: int = 0
    connected_now: int = 0


class Events(Protocol):
    """A client's room events: what it received, and what it asks for when it connects again."""

    def received(self, events: list[dict]) -> None: ...

    def on_connect(self) -> str | None:
        """A Socket.IO packet to send after each connect (a resume request), or None."""

    def stalled(self) -> str | None:
        """A resume request when a hole has kept received events waiting too long, or None."""


@dataclass(frozen=True)
class Fleet:
    url: str  # wss://HOST:PORT/socket.io/?EIO=4&transport=websocket
    origin: str
    clients: int
    delay: tuple[float, float] = SOCKETIO_DELAY  # first reconnection delay, its ceiling (seconds)
    room: str | None = None  # subscribe to it, and give each batch to the client's Events
    events: list[Events] | None = None  # one per client when room is set


def _context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the deployment's self-signed certificate
    return context


HANDSHAKE_CLOSED = "closed by the server during the handshake"


class Closed(Exception):
    """The connection ended; args[0] is socket.io-client's reason."""


@dataclass
class Outage:
    """When a client last lost its connection without being served since (None: it is served)."""

    since: float | None = None


async def _session(ws: aiohttp.ClientWebSocketResponse, fleet: Fleet, index: int, tally: Tally,
                   outage: Outage) -> None:
    """One connection, from the Engine.IO open packet until it ends (raises Closed with the reason)."""
    opened = await asyncio.wait_for(ws.receive(), CONNECT_TIMEOUT)
    if opened.type != aiohttp.WSMsgType.TEXT or not opened.data.startswith("0"):
        raise ConnectionError(f"no Engine.IO open packet: {str(opened.data)[:60]}")
    handshake = json.loads(opened.data[1:])
    silence = (handshake["pingInterval"] + handshake["pingTimeout"]) / 1000
    await ws.send_str("40")
    reply = await asyncio.wait_for(ws.receive(), CONNECT_TIMEOUT)
    if reply.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
        # Opened on an instance that stopped before the namespace connect: its handshake raced the drain.
        raise ConnectionError(HANDSHAKE_CLOSED)
    if not str(reply.data).startswith("40"):
        raise ConnectionError(f"namespace refused: {str(reply.data)[:60]}")
    tally.connects += 1
    tally.connected_now += 1
    events = fleet.events[index] if fleet.events and fleet.room else None
    try:
        if events:
            await ws.send_str("42" + json.dumps(["subscribe", {"room": fleet.room}]))
            resume = events.on_connect()
            if resume:
                await ws.send_str(resume)
        pinger = asyncio.create_task(_ping(ws, events))
        try:
            while True:
                try:
                    message = await ws.receive(timeout=silence)
                except TimeoutError:
                    raise Closed("ping timeout") from None
                if message.type != aiohttp.WSMsgType.TEXT:
                    raise Closed("transport close")
                data = message.data
                if data == "2":
                    await ws.send_str("3")
                elif data.startswith("41"):
                    raise Closed("io server disconnect")
                elif data.startswith('42["pong"'):
                    tally.pongs += 1
                    if outage.since is not None:
                        tally.served_again_s.append(time.monotonic() - outage.since)
                        outage.since = None
                elif events and data.startswith('42["batch"'):
                    events.received(json.loads(data[2:])[1]["events"])
        finally:
            pinger.cancel()
    finally:
        tally.connected_now -= 1


async def _ping(ws: aiohttp.ClientWebSocketResponse, events: Events | None) -> None:
    """A ping every PING_EVERY seconds, and a resume request when a hole keeps the room's events waiting."""
    try:
        for number in itertools.count():
            await ws.send_str(f'42["ping",{{"s":{number}}}]')
            if events and (resume := events.stalled()):
                await ws.send_str(resume)
            await asyncio.sleep(PING_EVERY)
    except (ConnectionError, aiohttp.ClientError):
        return  # the reader sees the connection end and says why


def _failure(error: BaseException) -> str:
    if isinstance(error, aiohttp.WSServerHandshakeError):
        return f"http {error.status}"
    if isinstance(error, aiohttp.ClientConnectorError) and isinstance(error.os_error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, asyncio.TimeoutError):
        return "timeout"
    if isinstance(error, ConnectionError) and str(error) == HANDSHAKE_CLOSED:
        return HANDSHAKE_CLOSED
    return f"{type(error).__name__}: {str(error)[:60]}"


async def _client(index: int, fleet: Fleet, tally: Tally, stop: asyncio.Event) -> None:
    local = f"127.0.{index % 64}.{1 + (index // 64) % 250}"
    outage = Outage()  # shared with each session, so every disconnect is timed from its own start
    failed_in_a_row = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(local, 0), ssl=_context(),
                                                                    limit=1)) as session:
        while not stop.is_set():
            tally.attempts += 1
            try:
                async with session.ws_connect(fleet.url, headers={"Origin": fleet.origin}, autoping=False,
                                              timeout=aiohttp.ClientWSTimeout(ws_close=2), max_msg_size=0) as ws:
                    failed_in_a_row = 0
                    await _session(ws, fleet, index, tally, outage)
            except Closed as closed:
                tally.disconnects[closed.args[0]] += 1
                if closed.args[0] == "io server disconnect":
                    return  # socket.io-client does not reconnect after the server's disconnect()
            except (TimeoutError, aiohttp.ClientError, OSError, ConnectionError) as error:
                tally.failures[_failure(error)] += 1
                failed_in_a_row += 1
            if stop.is_set():
                return
            if outage.since is None:
                outage.since = time.monotonic()
                tally.outages += 1
            first, ceiling = fleet.delay
            wait = min(first * 2 ** failed_in_a_row, ceiling) * random.uniform(0.5, 1.5)
            try:
                await asyncio.wait_for(stop.wait(), wait)
            except TimeoutError:
                pass


class RunningFleet:
    """The fleet in a thread: start(), then connected(), stop() returns the tally."""

    def __init__(self, fleet: Fleet, ramp_per_s: float = 400.0) -> None:
        self.fleet = fleet
        self.ramp_per_s = ramp_per_s
        self.tally = Tally()
        self.cpu_s = 0.0  # the load client's own CPU (this process), from start() to stop()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = 0.0

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        for index in range(self.fleet.clients):
            if self._stop.is_set():
                break
            self._tasks.append(asyncio.create_task(_client(index, self.fleet, self.tally, self._stop)))
            await asyncio.sleep(1 / self.ramp_per_s)
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _end(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()  # connected clients wait in receive()

    def start(self) -> RunningFleet:
        self._started = sum(os.times()[:2])
        self._thread.start()
        return self

    def wait_connected(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.tally.connected_now == self.fleet.clients:
                return True
            time.sleep(0.1)
        return False

    def stop(self, timeout: float = 15.0) -> Tally:
        while self._stop is None:
            time.sleep(0.01)
        self._loop.call_soon_threadsafe(self._end)
        self._thread.join(timeout)
        self.cpu_s = sum(os.times()[:2]) - self._started
        return self.tally
