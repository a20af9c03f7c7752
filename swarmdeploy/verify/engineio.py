"""A small Engine.IO 4 / Socket.IO 5 client over raw HTTP and WebSocket, for checks that must see
status codes, headers and packets that a full client library hides."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import urlencode, urlsplit

import websockets

from swarmdeploy.verify.target import Target

RECORD_SEPARATOR = "\x1e"  # between packets in one polling payload


class EngineIOError(Exception):
    def __init__(self, message: str, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body

    @property
    def session_unknown(self) -> bool:
        """python-engineio's answer when a request reaches an instance that never saw the session."""
        return self.status == 400 and "Invalid session" in self.body

    @property
    def transport_refused(self) -> bool:
        return self.status == 400 and "Invalid transport" in self.body

    @property
    def origin_refused(self) -> bool:
        return self.status == 400 and "accepted origin" in self.body


SESSION_MOVED = ("the session reached another instance (400 Invalid session): stickiness decides this, "
                 "see the stickiness check")


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def http_request(target: Target, method: str, url: str, headers: dict[str, str] | None = None,
                 body: bytes | None = None, timeout: float | None = None) -> HttpResponse:
    """One request on a fresh connection (as separate browser requests may be), TLS per the target.

    The connection goes to the target's --address when the URL names the target's host; SNI and
    Host still carry the name, as a browser's would. `timeout` (default the target's) bounds each
    socket operation: a long-poll GET waits up to pingInterval for its answer.
    """
    parts = urlsplit(url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    timeout = timeout or target.timeout
    connection = http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
    raw = socket.create_connection((target.connect_host(parts.hostname), port), timeout=timeout)
    try:
        connection.sock = target.ssl_context().wrap_socket(raw, server_hostname=parts.hostname) if https else raw
    except BaseException:
        raw.close()
        raise
    try:
        connection.request(method, parts.path + (f"?{parts.query}" if parts.query else "") or "/", body=body,
                           headers=headers or {})
        response = connection.getresponse()
        return HttpResponse(response.status, response.headers, response.read())
    finally:
        connection.close()


def engineio_url(target: Target, transport: str, sid: str | None = None, websocket: bool = False) -> str:
    query = {"EIO": "4", "transport": transport, **({"sid": sid} if sid else {})}
    base = target.base
    if websocket:
        base = base.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    return f"{base}{target.socketio_path}/?{urlencode(query)}"


def parse_open_packet(packet: str) -> dict[str, Any]:
    if not packet.startswith("0"):
        raise EngineIOError(f"expected an Engine.IO open packet, got {packet[:80]!r}")
    return json.loads(packet[1:])


def set_cookie_pair(header: str) -> tuple[str, str] | None:
    """The name and value a Set-Cookie header sets; its attributes do not matter to verify. (http.cookies drops
    the whole cookie for an attribute it does not know, such as HAProxy's Partitioned, before Python 3.14.)"""
    name, equals, value = header.split(";", 1)[0].partition("=")
    return (name.strip(), value.strip().strip('"')) if equals and name.strip() else None


def cookie_header(cookies: dict[str, str]) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())} if cookies else {}


class PollingSession:
    """An Engine.IO session over long-polling: one fresh HTTP connection per request, keeping
    cookies as a browser does (a balancer's stickiness cookie pins the session to one host)."""

    def __init__(self, target: Target, origin: str | None = None) -> None:
        self.target = target
        self.origin_headers = {"Origin": origin} if origin else {}
        self.cookies: dict[str, str] = {}
        self.sid: str | None = None
        self.handshake: dict[str, Any] = {}
        self.last: HttpResponse | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {**self.origin_headers, **cookie_header(self.cookies)}

    def _check(self, response: HttpResponse, what: str) -> HttpResponse:
        self.last = response
        for header in response.headers.get_all("Set-Cookie") or []:
            if pair := set_cookie_pair(header):
                self.cookies[pair[0]] = pair[1]
        if response.status != 200:
            raise EngineIOError(f"{what} answered HTTP {response.status}: {response.text[:120]}",
                                response.status, response.text)
        return response

    def open(self) -> dict[str, Any]:
        url = engineio_url(self.target, "polling")
        response = self._check(http_request(self.target, "GET", url, self.headers), "the polling handshake")
        self.handshake = parse_open_packet(response.text.split(RECORD_SEPARATOR)[0])
        self.sid = self.handshake["sid"]
        return self.handshake

    def receive(self, timeout: float | None = None) -> list[str]:
        """The packets of one GET; with nothing queued the server holds it until its next ping (long-poll)."""
        url = engineio_url(self.target, "polling", self.sid)
        response = http_request(self.target, "GET", url, self.headers, timeout=timeout)
        return self._check(response, "a polling GET").text.split(RECORD_SEPARATOR)

    def send(self, *packets: str) -> None:
        url = engineio_url(self.target, "polling", self.sid)
        headers = {**self.headers, "Content-Type": "text/plain;charset=UTF-8"}
        self._check(http_request(self.target, "POST", url, headers, RECORD_SEPARATOR.join(packets).encode()),
                    "a polling POST")

    def close(self) -> None:
        """Say goodbye (Engine.IO close packet) so the server frees the session now, not after ping_timeout."""
        if self.sid:
            try:
                self.send("1")
            except (EngineIOError, OSError):
                pass  # the session is already gone
            self.sid = None

    def connect_socketio(self, auth: dict[str, str] | None) -> None:
        """Join the default namespace; raises when the server refuses (auth, CORS)."""
        self.send("40" + (json.dumps(auth) if auth else ""))
        for packet in self.receive():
            if packet.startswith("40"):
                return
            if packet.startswith("44"):
                raise EngineIOError(f"the server refused the Socket.IO connect: {packet[2:]}")
        raise EngineIOError("no Socket.IO connect answer over polling")

    def call_ping(self, payload: Any, deadline: float) -> dict[str, Any]:
        """Emit ping and wait for the pong event, answering Engine.IO pings meanwhile."""
        self.send("42" + json.dumps(["ping", payload]))
        while time.monotonic() < deadline:
            for packet in self.receive():
                if packet == "2":
                    self.send("3")
                event = decode_event(packet)
                if event and event[0] == "pong":
                    return event[1]
        raise EngineIOError("no pong over polling before the deadline")


def decode_event(packet: str) -> list[Any] | None:
    """['name', data] of a Socket.IO EVENT packet on the default namespace (with or without ack id)."""
    if not packet.startswith("42"):
        return None
    body = packet[2:].lstrip("0123456789")
    try:
        decoded = json.loads(body)
    except ValueError:
        return None
    return decoded if isinstance(decoded, list) and decoded else None


class SocketIOWebSocket:
    """A Socket.IO client over a direct WebSocket (no polling first), for latency and broadcast."""

    def __init__(self, target: Target, url: str | None = None, origin: str | None = None,
                 cookies: dict[str, str] | None = None) -> None:
        self.target = target
        self.url = url or engineio_url(target, "websocket", websocket=True)
        self.origin = origin
        self.cookies = cookies or {}  # an upgrade must carry its polling session's stickiness cookie
        self.socket: Any = None
        self.handshake: dict[str, Any] = {}
        self.pending: list[str] = []  # packets that arrived while waiting for an acknowledgement
        self._ack_id = 0

    async def connect_transport(self) -> None:
        """The WebSocket alone; an upgrade of a polling session (sid in the URL) gets no open packet."""
        ssl_context = self.target.ssl_context() if self.url.startswith("wss://") else None
        parts = urlsplit(self.url)
        self.socket = await websockets.connect(
            self.url, ssl=ssl_context, origin=self.origin, open_timeout=self.target.timeout, max_size=2**24,
            host=self.target.connect_host(parts.hostname), port=parts.port or (443 if ssl_context else 80),
            additional_headers=cookie_header(self.cookies) or None)

    async def open(self) -> dict[str, Any]:
        await self.connect_transport()
        self.handshake = parse_open_packet(await self._recv())
        return self.handshake

    async def connect(self, auth: dict[str, str] | None = None) -> None:
        await self.open()
        await self.socket.send("40" + (json.dumps(auth) if auth else ""))
        while True:
            packet = await self._recv()
            if packet.startswith("40"):
                return
            if packet.startswith("44"):
                raise EngineIOError(f"the server refused the Socket.IO connect: {packet[2:]}")

    async def emit(self, event: str, data: Any) -> None:
        await self.socket.send("42" + json.dumps([event, data]))

    async def call(self, event: str, data: Any, timeout: float) -> Any:
        """Emit with an acknowledgement id and return the server's answer."""
        self._ack_id += 1
        ack = f"43{self._ack_id}"
        await self.socket.send(f"42{self._ack_id}" + json.dumps([event, data]))
        async with asyncio.timeout(timeout):
            while True:
                packet = await self._recv()
                if packet.startswith(ack) and packet[len(ack):len(ack) + 1] == "[":
                    answer = json.loads(packet[len(ack):])
                    return answer[0] if answer else None
                self.pending.append(packet)

    async def wait_event(self, name: str, timeout: float) -> Any:
        """The data of the next `name` event; answers Engine.IO pings while waiting."""
        async with asyncio.timeout(timeout):
            while True:
                packet = self.pending.pop(0) if self.pending else await self._recv()
                event = decode_event(packet)
                if event and event[0] == name:
                    return event[1] if len(event) > 1 else None

    async def _recv(self) -> str:
        while True:
            packet = await asyncio.wait_for(self.socket.recv(), self.target.timeout * 4)
            if packet == "2":  # the server's heartbeat: answer or be dropped after ping_timeout
                await self.socket.send("3")
                continue
            return packet

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
