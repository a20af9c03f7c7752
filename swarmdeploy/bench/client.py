"""One load client: a WebSocket speaking Engine.IO 4 / Socket.IO 5 (a minimal client: the test is of the
server, not of python-socketio), pinging once a second and timing each `pong`. Many run in one asyncio
loop; `Stats` tallies them, one measured `Window` at a time.

Used by `swarmdeploy bench` (one loop per worker process) and benchmarks/socketio_load.py.
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

CONNECT_TIMEOUT = 30.0  # seconds for the WebSocket handshake, the open packet and the namespace's answer
ERROR_TEXT = 80  # characters of an error kept per distinct error


def source_address(index: int) -> str:
    """127.0.X.Y for client `index`: nginx's ip_hash keys on the first three octets and limit_conn on the
    address (FACTS.md §2), so one source address would put every client on one instance and hit the
    per-client connection limit."""
    return f"127.0.{index % 64}.{1 + (index // 64) % 250}"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Window:
    """What one measured window saw: a ping sent in it counts as lost unless its pong arrives before the
    window stops collecting (its end plus a grace for pongs in flight)."""

    rtts_ms: list[float] = field(default_factory=list)
    sent: int = 0
    received: int = 0

    @property
    def lost(self) -> int:
        return self.sent - self.received


@dataclass
class Stats:
    connected: int = 0  # clients that completed the Socket.IO connect
    failed: int = 0  # clients that never connected
    dropped: int = 0  # clients that connected, then lost their connection
    errors: dict[str, int] = field(default_factory=dict)
    measuring: Window | None = None  # pings sent now count in it
    collecting: Window | None = None  # pongs of its pings still count (while measuring, then the grace)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def open_window(self) -> Window:
        self.measuring = self.collecting = Window()
        return self.measuring

    def stop_window(self) -> None:
        """No more pings count; pongs of those sent still do until close_window."""
        self.measuring = None

    def close_window(self) -> Window | None:
        window, self.collecting = self.collecting, None
        return window

    @property
    def open(self) -> int:
        return self.connected - self.dropped


@dataclass(frozen=True)
class Endpoint:
    """Where the clients connect and how: the Engine.IO WebSocket URL, the Origin a browser would send, the
    TLS context, and the Socket.IO auth payload when the server requires a token."""

    url: str
    origin: str
    ssl_context: ssl.SSLContext | None = None  # None: the system's trust store (wss://)
    auth: dict[str, Any] | None = None

    @property
    def connect_packet(self) -> str:
        return "40" + (json.dumps(self.auth, separators=(",", ":")) if self.auth else "")


async def run_client(index: int, endpoint: Endpoint, stats: Stats, start_pinging: asyncio.Event,
                     stop: asyncio.Event, done: asyncio.Event, local_address: str | None = None) -> None:
    """Connect, wait for start_pinging, ping once a second until stop, keep reading pongs until done."""
    connector = aiohttp.TCPConnector(local_addr=(local_address, 0) if local_address else None,
                                     ssl=endpoint.ssl_context or True, limit=1)
    outstanding: dict[int, tuple[float, Window | None]] = {}
    connected = False
    try:
        async with aiohttp.ClientSession(connector=connector) as session, session.ws_connect(
                endpoint.url, headers={"Origin": endpoint.origin}, timeout=aiohttp.ClientWSTimeout(ws_close=5),
                autoping=False, max_msg_size=0) as ws:
            opened = await asyncio.wait_for(ws.receive(), CONNECT_TIMEOUT)
            if opened.type != aiohttp.WSMsgType.TEXT or not opened.data.startswith("0"):
                raise ConnectionError(f"no Engine.IO open packet: {opened.data!r}")
            await ws.send_str(endpoint.connect_packet)  # Socket.IO connect to namespace /
            reply = await asyncio.wait_for(ws.receive(), CONNECT_TIMEOUT)
            if not str(reply.data).startswith("40"):
                raise ConnectionError(f"namespace refused: {reply.data!r}")
            stats.connected += 1
            connected = True

            async def reader() -> None:
                async for message in ws:
                    if message.type != aiohttp.WSMsgType.TEXT:
                        break
                    data = message.data
                    if data == "2":  # Engine.IO ping from the server
                        await ws.send_str("3")
                    elif data.startswith('42["pong"'):
                        now = time.perf_counter()
                        seq = json.loads(data[2:])[1]["payload"]["s"]
                        sent, window = outstanding.pop(seq, (0.0, None))
                        if window is not None and window is stats.collecting:
                            window.rtts_ms.append((now - sent) * 1000)
                            window.received += 1

            read_task = asyncio.create_task(reader())
            await start_pinging.wait()
            await asyncio.sleep(random.random())  # spread pings over the second
            seq = 0
            next_at = time.perf_counter()
            while not stop.is_set():
                if read_task.done():  # the server closed the connection
                    raise ConnectionError("closed by the server")
                seq += 1
                window = stats.measuring
                outstanding[seq] = (time.perf_counter(), window)
                await ws.send_str(f'42["ping",{{"s":{seq}}}]')
                if window is not None:
                    window.sent += 1
                next_at += 1.0
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            await done.wait()  # grace period for the last pongs
            read_task.cancel()
    except asyncio.CancelledError:
        raise
    except Exception as error:  # noqa: BLE001 - counted and reported
        if connected:
            stats.dropped += 1
        else:
            stats.failed += 1
        stats.error(type(error).__name__ + ": " + str(error)[:ERROR_TEXT])
