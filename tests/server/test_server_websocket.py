"""The WebSocket frame path (server/websocket.py) against a real gunicorn instance: real clients
(`websockets`, python-socketio) and raw frames a client nobody wrote might send. Protocol errors end the
connection with RFC 6455's close code, never with a hang or a traceback, and the instance keeps serving."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import struct
import time

import pytest
from conftest import require_tool
from server_stack import Supervisor, http_text, start_instances, write_profile

pytestmark = pytest.mark.integration

MAX_MESSAGE = 100_000  # the profile's max_http_buffer_size here: frames above it are refused


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    require_tool("gunicorn")
    directory = tmp_path_factory.mktemp("websocket")
    supervisor = Supervisor(directory)
    try:
        stack = start_instances(supervisor, write_profile(directory, socketio={"max_http_buffer_size": MAX_MESSAGE}))
        yield stack.instances[0]
    finally:
        supervisor.stop_all()


def client_frame(opcode: int, payload: bytes, *, final: bool = True, masked: bool = True, rsv: int = 0,
                 claimed_size: int | None = None) -> bytes:
    """A client's frame; `claimed_size` writes a length header without (all of) the payload."""
    size = len(payload) if claimed_size is None else claimed_size
    head = bytes([(0x80 if final else 0) | rsv | opcode])
    mask_bit = 0x80 if masked else 0
    if size < 126:
        head += bytes([mask_bit | size])
    elif size < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", size)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class RawClient:
    """Engine.IO over a hand-made WebSocket: the handshake, then frames as bytes."""

    def __init__(self, port: int, extra_headers: str = "") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                          f"Sec-WebSocket-Version: 13\r\n{extra_headers}\r\n".encode())
        self.pending = b""
        while b"\r\n\r\n" not in self.pending:
            self.pending += self._recv()
        head, self.pending = self.pending.split(b"\r\n\r\n", 1)
        self.response_head = head.decode()
        assert self.response_head.startswith("HTTP/1.1 101"), self.response_head
        assert self.text().startswith("0{")  # Engine.IO open packet

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the server closed the connection")
        return chunk

    def _exactly(self, size: int) -> bytes:
        while len(self.pending) < size:
            self.pending += self._recv()
        data, self.pending = self.pending[:size], self.pending[size:]
        return data

    def frame(self) -> tuple[int, bytes]:
        """The server's next frame: (opcode, payload); server frames are final and unmasked."""
        first, second = self._exactly(2)
        assert first & 0x80 and not second & 0x80, "server frames are final and unmasked"
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", self._exactly(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", self._exactly(8))[0]
        return first & 0x0F, self._exactly(size)

    def text(self) -> str:
        opcode, payload = self.frame()
        assert opcode == 0x1, (opcode, payload)
        return payload.decode()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def connect_namespace(self) -> None:
        self.send(client_frame(0x1, b"40"))
        assert self.text().startswith("40{")

    def pong_for(self, payload: object) -> dict:
        """Send 42["ping",payload]; skip Engine.IO heartbeats; return the pong's data."""
        self.send(client_frame(0x1, ("42" + json.dumps(["ping", payload])).encode()))
        return self.next_event("pong")

    def next_event(self, name: str) -> dict:
        while True:
            text = self.text()
            if text.startswith("42"):
                event, data = json.loads(text[2:])
                assert event == name, text
                return data

    def close_frame(self) -> int:
        """Read until the server's close frame; its status code."""
        while True:
            opcode, payload = self.frame()
            if opcode == 0x8:
                return struct.unpack("!H", payload[:2])[0]

    def close_code(self) -> int:
        """The server's close frame's code; the connection ends right after it."""
        code = self.close_frame()
        self.assert_ended()
        return code

    def assert_ended(self) -> None:
        with pytest.raises((EOFError, ConnectionResetError)):
            self._recv()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(instance):
    opened: list[RawClient] = []

    def open_client(extra_headers: str = "") -> RawClient:
        client = RawClient(instance.port, extra_headers)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close()
    assert instance.health()["status"] == "ok"  # every abuse leaves the instance serving


def test_a_client_offering_deflate_gets_plain_frames_and_is_served(instance) -> None:
    websockets = pytest.importorskip("websockets.sync.client")
    url = f"ws://127.0.0.1:{instance.port}/socket.io/?EIO=4&transport=websocket"
    with websockets.connect(url, open_timeout=5) as ws:  # offers permessage-deflate, as browsers do
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
        assert ws.recv(timeout=5).startswith("0{")
        ws.send("40")
        assert ws.recv(timeout=5).startswith("40{")
        assert ws.ping().wait(5)  # a WebSocket ping frame is answered with a pong frame
        big = "é" * 30_000 + "end"  # 60,003 bytes: the 16-bit length form both ways
        ws.send(["42", json.dumps(["ping", big[:20_000]], ensure_ascii=False)[:-2],
                 json.dumps(big[20_000:], ensure_ascii=False)[1:-1], '"]'])  # one message in four fragments
        event, data = json.loads(ws.recv(timeout=5)[2:])
        assert event == "pong" and data["payload"] == big


def test_messages_arrive_whole_however_the_bytes_are_cut(raw) -> None:
    client = raw()
    client.connect_namespace()
    frames = b"".join(client_frame(0x1, ("42" + json.dumps(["ping", n])).encode()) for n in range(3))
    client.send(frames)  # three frames in one segment
    assert [client.next_event("pong")["payload"] for _ in range(3)] == [0, 1, 2]
    one = client_frame(0x1, ("42" + json.dumps(["ping", "trickled"])).encode())
    for index in range(len(one)):  # one byte per segment
        client.send(one[index:index + 1])
    assert client.next_event("pong")["payload"] == "trickled"
    text = '42["ping","é"]'.encode()
    cut = text.index(b"\xc3") + 1  # inside the two bytes of é
    client.send(client_frame(0x1, text[:cut], final=False) + client_frame(0x0, text[cut:]))
    assert client.next_event("pong")["payload"] == "é"
    # A ping control frame in the middle of a fragmented message is answered, and the message still arrives.
    client.send(client_frame(0x1, b'42["ping",', final=False) + client_frame(0x9, b"hb")
                + client_frame(0x0, b'"split"]'))
    assert client.frame() == (0xA, b"hb")
    assert client.next_event("pong")["payload"] == "split"


def test_a_binary_frame_reaches_python_engineio(raw, instance) -> None:
    client = raw()
    client.connect_namespace()
    client.send(client_frame(0x2, b"\x00\x01binary"))  # Engine.IO binary message: python-socketio drops it alone
    assert client.pong_for("after")["payload"] == "after"


PROTOCOL_ERRORS = [
    ("unmasked", client_frame(0x1, b"42", masked=False), 1002),
    ("reserved bit", client_frame(0x1, b"42", rsv=0x40), 1002),
    ("unknown opcode", client_frame(0x3, b"x"), 1002),
    ("continuation of nothing", client_frame(0x0, b"x"), 1002),
    ("new message inside a fragmented one", client_frame(0x1, b"4", final=False) + client_frame(0x1, b"2"), 1002),
    ("fragmented control frame", client_frame(0x9, b"x", final=False), 1002),
    ("long control frame", client_frame(0x9, b"x" * 126), 1002),
    ("invalid UTF-8", client_frame(0x1, b"42\xff\xfe"), 1007),
    ("invalid UTF-8, long form", client_frame(0x1, b"4" * 200 + b"\xc3"), 1007),
    ("size claimed over the limit", client_frame(0x1, b"", claimed_size=MAX_MESSAGE + 1), 1009),
    ("size claimed 2^63", client_frame(0x1, b"", claimed_size=2**63), 1009),
    ("fragments over the limit", client_frame(0x1, b"4" * 60_000, final=False) + client_frame(0x0, b"2" * 60_000), 1009),
]


# Named by their first element: the frames carry random masks, and pytest-xdist's workers must agree on the ids.
@pytest.mark.parametrize(("name", "data", "code"), PROTOCOL_ERRORS, ids=[case[0] for case in PROTOCOL_ERRORS])
def test_a_protocol_error_closes_with_its_code_at_once(raw, name: str, data: bytes, code: int) -> None:
    client = raw()
    client.connect_namespace()
    client.send(data)  # a size claimed over the limit is refused before the payload is waited for
    assert client.close_code() == code, name


@pytest.mark.parametrize(("payload", "code"), [
    pytest.param(struct.pack("!H", 1001) + b"going away", 1001, id="1001 with a reason"),
    pytest.param(struct.pack("!H", 4000), 4000, id="4000, the range applications use"),
    pytest.param(b"", 1000, id="no code"),
    pytest.param(b"\x03", 1002, id="half a code"),
    pytest.param(struct.pack("!H", 999), 1002, id="999"),
    pytest.param(struct.pack("!H", 1005), 1002, id="1005, reserved: never sent on the wire, so never echoed"),
    pytest.param(struct.pack("!H", 1000) + b"\xff", 1007, id="a reason that is not UTF-8"),
])
def test_a_client_close_is_answered_with_its_code_or_why_not(raw, payload: bytes, code: int) -> None:
    client = raw()
    client.connect_namespace()
    client.send(client_frame(0x8, payload))
    assert client.close_code() == code


def test_an_empty_message_is_ignored(raw, instance) -> None:
    client = raw()
    client.connect_namespace()
    client.send(client_frame(0x1, b""))  # python-engineio alone raised on it: a 500 and a session left behind
    assert client.pong_for("still here")["payload"] == "still here"


@pytest.mark.parametrize("headers", [
    "",  # no Sec-WebSocket-Version, no key
    "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: c2hvcnQ=\r\n",  # 5 bytes, not 16
    "Sec-WebSocket-Version: 13\r\n",
])
def test_a_malformed_upgrade_is_refused_with_400_and_the_version(instance, headers: str) -> None:
    refused_before = refusals(instance)
    with socket.create_connection(("127.0.0.1", instance.port), timeout=5) as sock:
        sock.sendall(f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Upgrade: websocket\r\nConnection: Upgrade\r\n{headers}Connection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].decode()
    assert head.startswith("HTTP/1.1 400"), head
    assert "Sec-WebSocket-Version: 13" in head
    assert refusals(instance) == refused_before + 1
    assert instance.health()["status"] == "ok"


def refusals(instance) -> float:
    line = next(line for line in http_text(f"{instance.url}/metrics").splitlines()
                if line.startswith('swarmdeploy_handshake_errors_total{reason="other"}'))
    return float(line.split()[-1])


def test_python_socketio_upgrades_from_polling_and_is_answered(connect, instance) -> None:
    client = connect(instance.url, ["polling", "websocket"])
    for n in range(20):
        assert client.ping(n)["payload"] == n
    assert client.sio.transport() == "websocket"


def test_a_close_the_server_starts_waits_for_the_clients_close_frame(supervisor, tmp_path) -> None:
    """RFC 6455's closing handshake: after its close frame the server keeps the connection until the client's
    close frame (then ends it at once) or 2 s. Cut at once, nginx ended the client's connection while the
    client was still answering a heartbeat, and that write failed (benchmarks/redeploy_under_load.py)."""
    require_tool("gunicorn")
    (instance,) = start_instances(supervisor, write_profile(tmp_path)).instances
    answering, silent = RawClient(instance.port), RawClient(instance.port)
    for client in (answering, silent):
        client.connect_namespace()
    instance.process.send_signal(signal.SIGTERM)  # gunicorn's graceful stop closes every transport (runtime.py)
    assert answering.close_frame() == silent.close_frame() == 1000
    closed = time.monotonic()
    answering.send(client_frame(0x1, b"3"))  # still open: what a client writes before its close frame lands
    answering.send(client_frame(0x8, struct.pack("!H", 1000)))
    answering.assert_ended()
    answered_after = time.monotonic() - closed
    silent.sock.settimeout(10)
    silent.assert_ended()
    silent_after = time.monotonic() - closed
    assert answered_after < 1.0, answered_after
    assert 1.5 < silent_after < 4.0, silent_after
    answering.close()
    silent.close()

