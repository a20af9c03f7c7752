"""The ping round trip's fast path (server/ping.py) and the JSON codec (server/codec.py), against a real
gunicorn instance and real python-socketio clients: the fast path answers exactly as python-socketio's
handler does, exactly once per ping, and what it does not serve still reaches python-socketio."""

from __future__ import annotations

import json
import queue

import pytest
from conftest import require_tool
from server_stack import http_text, start_instances, write_profile

from swarmdeploy.server import codec

pytestmark = pytest.mark.integration

# Non-ASCII text, an integer beyond 64 bits (orjson refuses it: the codec falls back), nesting, null, floats.
AWKWARD = {"text": "é € 😀 \"quoted\" \\", "big": 2**70, "nested": [1.5, None, True, {"k": []}], "n": -3}


def pong_count(metrics_text: str) -> float:
    line = next(line for line in metrics_text.splitlines()
                if line.startswith('swarmdeploy_events_emitted_total{event="pong"}'))
    return float(line.split()[-1])


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_each_ping_gets_exactly_one_pong_in_order_with_its_payload(supervisor, connect, tmp_path, transport):
    require_tool("gunicorn")
    stack = start_instances(supervisor, write_profile(tmp_path))
    (instance,) = stack.instances
    client = connect(instance.url, [transport])
    pongs = []
    for burst in range(5):  # bursts of 10: python-engineio refuses a polling POST of more than 16 packets
        for seq in range(burst * 10, burst * 10 + 10):
            client.sio.emit("ping", {"s": seq, **AWKWARD})  # 42["ping",{...}]: the fast path's form
        pongs += [client.pongs.get(timeout=10) for _ in range(10)]
    assert [p["payload"]["s"] for p in pongs] == list(range(50))
    assert all(p["payload"] == {"s": p["payload"]["s"], **AWKWARD} for p in pongs)
    assert {p["instance"] for p in pongs} == {instance.health()["instance"]}
    with pytest.raises(queue.Empty):
        client.pongs.get(timeout=1)  # no second answer from python-socketio's handler
    assert pong_count(http_text(f"{instance.url}/metrics")) == 50


def test_pings_the_fast_path_leaves_to_python_socketio_are_answered_alike(supervisor, connect, tmp_path):
    require_tool("gunicorn")
    stack = start_instances(supervisor, write_profile(tmp_path))
    (instance,) = stack.instances
    client = connect(instance.url, ["websocket"])
    fast = client.ping(AWKWARD)
    acked = client.call("ping", AWKWARD)  # 421["ping",...]: an ack id, so python-socketio's handler
    assert client.pongs.get(timeout=5)["payload"] == AWKWARD  # that handler emits a pong too
    client.sio.emit("ping")  # 42["ping"]: no payload
    bare = client.pongs.get(timeout=5)
    assert fast["payload"] == acked["payload"] == AWKWARD
    assert bare["payload"] is None
    assert set(fast) == set(acked) == set(bare) == {"payload", "time", "instance"}
    # Other events still reach python-socketio behind the wrapped message handler.
    assert client.call("subscribe", {"room": "r1"})["ok"] is True
    # Encoded by orjson (codec.py): the standard library would have sent Infinity back.
    assert client.ping([float("inf")])["payload"] == [None]
    assert pong_count(http_text(f"{instance.url}/metrics")) == 4


@pytest.mark.parametrize("value", [AWKWARD, {1: "non-string key"}, [float("inf")], "plain", 2**64, None])
def test_codec_output_means_what_the_standard_library_reads(value) -> None:
    text = codec.dumps(value, separators=(",", ":"))
    expected = json.loads(json.dumps(value))
    if value == [float("inf")]:
        expected = [None]  # the standard library would write `Infinity`, which JSON.parse refuses
    assert json.loads(text) == expected


@pytest.mark.parametrize("text", [
    '{"big": 100000000000000000000000}',  # orjson alone: 1e+23, a float
    "[-9223372036854775809, 18446744073709551616, 9223372036854775807]",
    "[1e400, NaN, -Infinity]",  # orjson refuses these; the standard library reads them
    '"\\ud800"',  # a lone surrogate
    '{"k": 1, "k": 2}',
    '[0.1, 1e-7, 2.5e+10, -0, 123456789012345678.5, 3.141592653589793238462643383279]',
    '["é € 😀", {"nested": [true, false, null]}]',
])
def test_codec_reads_what_the_standard_library_reads(text: str) -> None:
    assert repr(codec.loads(text)) == repr(json.loads(text))  # repr: 1 and 1.0 differ, nan reads alike


def test_codec_refuses_what_the_standard_library_refuses() -> None:
    with pytest.raises(ValueError):
        codec.loads('["ping", {"s": 1}')

