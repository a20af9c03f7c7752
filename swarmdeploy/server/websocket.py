"""WebSocket frames read and written by the connection's own greenlet (gevent mode under gunicorn).

python-engineio's gevent mode serves WebSocket through simple-websocket: a second reader greenlet per
connection, wsproto's generator-based parser and a pure-Python unmasking loop for every frame, and an
event hand-off from the reader to the request's greenlet. Profiling the ping round trip put that frame
path first (docs/benchmarks.md, issue 13). `FrameWebSocket` speaks RFC 6455 itself on gunicorn's socket:
the request's greenlet reads the frames (python-engineio already loops on `wait()` there), unmasks
with one integer XOR and answers control frames inline.

What it leaves out, on purpose:
- permessage-deflate is not negotiated (a client that offers it gets plain frames, as RFC 6455
  allows). Node's Socket.IO server turns it off by default too: for small dashboard messages it costs
  CPU and ~100 KiB of zlib state per connection (docs/benchmarks.md "Memory per connection").
- Subprotocols: python-engineio asks for none.

A malformed upgrade (not GET, Sec-WebSocket-Version not 13, Sec-WebSocket-Key not 16 bytes of base64) is
answered 400 with `Sec-WebSocket-Version: 13`, as RFC 6455 section 4.2.2 asks. On a WSGI server other than
gunicorn, simple-websocket serves the connection as before.

The request's greenlet also writes a reply at once when nothing can be ahead of it (ping.py's
`send_now`); `FrameWebSocket.sending` counts the writes in progress for it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import socket as socket_module
import struct
from typing import Any, NoReturn

from engineio.async_drivers.gevent import WebSocketWSGI as SimpleWebSocketWSGI
from gevent import spawn_later
from gevent.lock import Semaphore
from gevent.socket import wait as wait_for

ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
RECEIVE_BYTES = 65536
CLOSE_REPLY_S = 2.0  # how long a client has to answer the server's close frame before the socket is shut down

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
NORMAL, PROTOCOL_ERROR, INVALID_DATA, TOO_BIG = 1000, 1002, 1007, 1009
# Codes a close frame may carry below 3000 (1004-1006 and 1015 are reserved, never sent).
SENDABLE_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014))


def bad_upgrade() -> dict[str, Any]:
    """A response python-engineio writes (its _bad_request() form, a new one each time: it edits them)."""
    return {
        "status": "400 BAD REQUEST",
        "headers": [("Content-Type", "text/plain"), ("Sec-WebSocket-Version", "13")],  # the version spoken here
        "response": b"Bad WebSocket upgrade: a GET with Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key"
                    b" of 16 bytes in base64 is needed",
    }


class ClientGone(Exception):
    """The client closed, broke the protocol, or the socket failed: wait() answers None."""


def accept_key(environ: dict[str, Any]) -> str | None:
    """Sec-WebSocket-Accept for a well-formed version-13 upgrade, else None (answered 400)."""
    if environ.get("REQUEST_METHOD") != "GET" or environ.get("HTTP_SEC_WEBSOCKET_VERSION") != "13":
        return None
    key = environ.get("HTTP_SEC_WEBSOCKET_KEY", "").strip()
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            return None
    except (binascii.Error, ValueError):
        return None
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + ACCEPT_GUID).digest()).decode("ascii")


def unmask(payload: bytes, mask: bytes) -> bytes:
    """XOR the payload with the repeating 4-byte mask, as one integer operation."""
    size = len(payload)
    if not size:
        return payload
    key = int.from_bytes((mask * (size // 4 + 1))[:size], "little")
    return (int.from_bytes(payload, "little") ^ key).to_bytes(size, "little")


def close_answer(payload: bytes) -> int:
    """The code to answer a client's close frame with: its own when valid (RFC 6455 section 7.4), else why not."""
    if not payload:
        return NORMAL  # no code given
    code = int.from_bytes(payload[:2], "big")
    if len(payload) == 1 or not (code in SENDABLE_CODES or 3000 <= code < 5000):
        return PROTOCOL_ERROR
    try:
        payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        return INVALID_DATA
    return code


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame (a server's frames are never masked)."""
    size = len(payload)
    if size < 126:
        return bytes((0x80 | opcode, size)) + payload
    if size < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, size) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, size) + payload


class FrameWebSocket(SimpleWebSocketWSGI):  # type: ignore[misc, valid-type]
    """python-engineio's WebSocket wrapper (`wait`, `send`, `close`), speaking RFC 6455 on gunicorn's socket."""

    def __init__(self, handler: Any, server: Any) -> None:
        super().__init__(handler, server)
        self.session = handler.__self__  # handler is the Engine.IO socket's _websocket_handler
        self.server = server
        self.max_message = server.max_http_buffer_size
        self._short = min(126, self.max_message + 1)  # sizes the one-byte length form carries, within the limit
        self.sending = 0
        self.closed = False
        self._sock: Any = None  # gunicorn's socket once this class serves the connection
        self._buffer = bytearray()
        self._drained = False  # the last recv() emptied the socket: wait for data rather than ask again
        self._readable: Any = None  # gevent io watcher, waited on without a timeout (see _fill)
        self._write_lock = Semaphore()
        self._on_message: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        sock = environ.get("gunicorn.socket")
        if sock is None:  # another WSGI server: simple-websocket knows its socket
            return super().__call__(environ, start_response)
        accept = accept_key(environ)
        if accept is None:
            if not self.session.connected:  # a new session that never got a transport: end it now
                self.session.close(wait=False, abort=True)
            return bad_upgrade()  # python-engineio writes it (simple-websocket raised: a 500 and a traceback)
        self._sock = sock  # python-engineio sets ping_interval + ping_timeout as its timeout: it bounds a blocked send
        sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept.encode("ascii") + b"\r\n\r\n")
        self._readable = sock.hub.loop.io(sock.fileno(), 1)  # 1: readable
        if not self.server.logger.isEnabledFor(logging.INFO):  # python-engineio logs each packet at INFO
            self._on_message = self.server.handlers.get("message")
        self.session.frame_websocket = self
        try:
            self.app(self)
        finally:  # no cycle left for the collector (runtime.py): the session is freed by reference counting
            self.session.frame_websocket = None
            self.close()
            self._readable.close()
        raise StopIteration()  # gunicorn: the response was written here; close the connection

    def wait(self) -> str | bytes | None:
        if self._sock is None:
            return super().wait()
        try:
            while True:
                message = self._read_message()
                if not message or self.closed:
                    # No Engine.IO packet is empty (python-engineio would raise: a 500, and the session left open);
                    # after the server's close frame, what the client still sends before its own is dropped.
                    continue
                if not (message.__class__ is str and message[:1] == "4" and self._hand_over(message[1:])):
                    return message
        except ClientGone:
            return None

    def _hand_over(self, data: str) -> bool:
        """Give an Engine.IO MESSAGE to the message handler as python-engineio's receive() would, without
        building a Packet, once the session is on this WebSocket (during an upgrade its loop reads)."""
        session = self.session
        if self._on_message is None or not session.upgraded or session.upgrading:
            return False
        try:
            self._on_message(session.sid, data)
        except Exception:  # as python-engineio's _trigger_event: logged, the connection lives on
            self.server.logger.exception("message handler error")
        return True

    def send(self, message: str | bytes) -> None:
        if self._sock is None:
            return super().send(message)
        if isinstance(message, str):
            self._write(frame(TEXT, message.encode()))
        else:
            self._write(frame(BINARY, bytes(message)))
        return None

    def close(self) -> None:
        if self._sock is None:
            return super().close()
        self._close(NORMAL, await_reply=True)
        return None

    def _close(self, code: int, await_reply: bool = False) -> None:
        """Send a close frame once, then end both directions (a reader waiting for data sees the end).

        `await_reply` (the server starts the closing handshake, RFC 6455 section 7.1): the socket stays open
        until the client answers with its own close frame, which ends the reader, or CLOSE_REPLY_S. Cut at
        once, nginx ended the client's connection while the client could still be writing (an answer to a
        heartbeat), and that write failed where the client should have read a close. A write blocked on a
        client that stopped reading means no answer will come: no close frame then (it would queue behind that
        write), and the socket is shut down at once, which fails that write too."""
        if self.closed:
            return
        blocked = bool(self.sending)
        if not blocked:
            try:
                self._write(frame(CLOSE, code.to_bytes(2, "big")))
            except OSError:
                blocked = True
        self.closed = True
        if await_reply and not blocked:
            spawn_later(CLOSE_REPLY_S, self._shutdown)
        else:
            self._shutdown()

    def _shutdown(self) -> None:
        try:
            self._sock.shutdown(socket_module.SHUT_RDWR)
        except OSError:  # already closed (gunicorn closes it once the connection's handler returns)
            pass

    def _write(self, data: bytes) -> None:
        if self.closed:
            raise OSError("the WebSocket is closed")  # python-engineio's writer stops on OSError
        self.sending += 1
        try:
            with self._write_lock:  # a blocked write must not interleave with another greenlet's frame
                sent = self._sock.send(data)  # usually all of it: one call instead of sendall's loop
                if sent < len(data):
                    self._sock.sendall(memoryview(data)[sent:])
        finally:
            self.sending -= 1

    def _read_message(self) -> str | bytes:
        """The next whole text or binary message; control frames are answered on the way."""
        buffer = self._buffer
        self._fill(2)
        size = buffer[1] - 0x80
        if buffer[0] == 0x81 and 0 <= size < self._short:  # final, text, masked, short: what clients send most
            end = 6 + size
            self._fill(end)
            data = unmask(bytes(buffer[6:end]), bytes(buffer[2:6]))
            del buffer[:end]
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                self._fail(INVALID_DATA)
        return self._read_any_message()

    def _read_any_message(self) -> str | bytes:
        parts: list[bytes] = []
        message_opcode = None
        total = 0
        while True:
            final, opcode, payload = self._read_frame()
            if opcode >= CLOSE:
                self._answer_control(opcode, payload)
                continue
            if (opcode == CONTINUATION) != (message_opcode is not None):
                self._fail(PROTOCOL_ERROR)  # a continuation with nothing to continue, or a new message inside one
            message_opcode = message_opcode if opcode == CONTINUATION else opcode
            parts.append(payload)
            total += len(payload)
            if total > self.max_message:
                self._fail(TOO_BIG)
            if final:
                break
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        if message_opcode == BINARY:
            return data
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self._fail(INVALID_DATA)

    def _read_frame(self) -> tuple[bool, int, bytes]:
        first, second = self._take(2)
        if first & 0x70 or not second & 0x80:
            self._fail(PROTOCOL_ERROR)  # an extension bit nobody negotiated, or an unmasked client frame
        opcode, size = first & 0x0F, second & 0x7F
        if opcode not in (CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG):
            self._fail(PROTOCOL_ERROR)
        if opcode >= CLOSE and (size > 125 or not first & 0x80):
            self._fail(PROTOCOL_ERROR)  # control frames are short and never fragmented
        if size == 126:
            size = int.from_bytes(self._take(2), "big")
        elif size == 127:
            size = int.from_bytes(self._take(8), "big")
        if size > self.max_message:
            self._fail(TOO_BIG)  # refused before a byte of it is buffered
        masked = self._take(4 + size)
        return bool(first & 0x80), opcode, unmask(masked[4:], masked[:4])

    def _answer_control(self, opcode: int, payload: bytes) -> None:
        if opcode == PING:
            self._write(frame(PONG, payload))
        elif opcode == CLOSE:
            self._close(close_answer(payload))
            raise ClientGone()

    def _fail(self, code: int) -> NoReturn:
        self._close(code)
        raise ClientGone()

    def _take(self, size: int) -> bytes:
        self._fill(size)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _fill(self, size: int) -> None:
        """Read until the buffer holds at least `size` bytes."""
        buffer = self._buffer
        while len(buffer) < size:
            sock = self._sock
            try:
                if self._drained:
                    # Wait for data before asking: the recv() would only fail with EAGAIN. No timeout, so no
                    # timer per message (gevent's socket starts one per wait when a timeout is set): a silent
                    # client is ended by Engine.IO's heartbeat, which closes the session and so this socket.
                    wait_for(self._readable)
                chunk = sock.recv(RECEIVE_BYTES)
            except OSError as error:  # reset, timed out, or shut down by _close
                raise ClientGone() from error
            if not chunk:
                raise ClientGone()
            self._drained = len(chunk) < RECEIVE_BYTES
            buffer += chunk


def install(eio: Any) -> bool:
    """Serve WebSocket with FrameWebSocket on python-engineio server `eio` (gevent mode only)."""
    if eio.async_mode != "gevent" or eio._async.get("websocket") is not SimpleWebSocketWSGI:
        return False
    eio._async = {**eio._async, "websocket": FrameWebSocket}
    return True

