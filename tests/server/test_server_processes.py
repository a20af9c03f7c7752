"""Real gunicorn instances started as the rendered systemd unit starts them; real clients."""

from __future__ import annotations

import signal
import subprocess
import urllib.error

import pytest
import socketio
from prometheus_client.parser import text_string_to_metric_families
from server_stack import Instance, http_text, start_instances, wait_until, write_profile

from conftest import require_tool

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _gunicorn():
    require_tool("gunicorn")


@pytest.mark.parametrize("async_mode", ["gevent", "threading"])
def test_ping_pong_over_websocket_only_and_polling_only(supervisor, connect, tmp_path, async_mode):
    profile = write_profile(tmp_path, server={"async_mode": async_mode, "threads": 20},
                            socketio={"path": "/live/socket.io"})
    stack = start_instances(supervisor, profile)
    (instance,) = stack.instances
    assert instance.health()["async_mode"] == async_mode
    for transports in (["websocket"], ["polling"]):
        client = connect(instance.url, transports, path="/live/socket.io")
        assert client.sio.transport() == transports[0]
        for n in range(3):
            pong = client.ping({"n": n, "transport": transports[0]})
            assert pong["payload"] == {"n": n, "transport": transports[0]}
            assert pong["instance"].endswith(f":{instance.port}")
        assert client.call("ping", "ack")["payload"] == "ack"
    assert instance.health()["clients"] == 2


def test_auth_token_refuses_wrong_and_accepts_right(supervisor, connect, tmp_path):
    profile = write_profile(tmp_path, server={"auth_token_env": "DASH_TOKEN"})
    stack = start_instances(supervisor, profile, extra_env={"DASH_TOKEN": "correct-horse"})
    url = stack.instances[0].url
    for auth in (None, {"token": "wrong"}):
        with pytest.raises(socketio.exceptions.ConnectionError, match="unauthorized"):
            connect(url, ["websocket"], auth=auth)
    client = connect(url, ["websocket"], auth={"token": "correct-horse"})
    assert client.ping(1)["payload"] == 1


def test_server_refuses_to_start_when_the_token_variable_is_unset(supervisor, tmp_path):
    profile = write_profile(tmp_path, server={"auth_token_env": "DASH_TOKEN_UNSET"})
    with pytest.raises(AssertionError, match="process exited"):
        start_instances(supervisor, profile)
    assert "DASH_TOKEN_UNSET" in supervisor.log(f"swarmtest-{profile_port(profile)}")


def profile_port(profile) -> int:
    from swarmdeploy.profile import load_profile

    return load_profile(profile).model["server"]["base_port"]


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_what_clients_did(supervisor, connect, tmp_path):
    stack = start_instances(supervisor, write_profile(tmp_path, socketio={"batching": {"interval": 0.2, "max_size": 4}}))
    url = stack.instances[0].url
    first, second = connect(url, ["websocket"]), connect(url, ["polling"])
    for n in range(5):
        first.ping(n)
    second.ping("x")
    assert first.call("subscribe", {"room": "m"})["ok"]
    for n in range(6):  # one full batch of 4, then 2 after the interval
        second.call("publish", {"room": "m", "data": n})
    assert sum(len(b["events"]) for b in first.batch_events(6, timeout=5)) == 6
    second.close()
    # A handshake from an origin outside cors_allowed_origins: refused by Engine.IO with 400.
    with pytest.raises(urllib.error.HTTPError):
        http_text(f"{url}/socket.io/?EIO=4&transport=polling", headers={"Origin": "https://evil.example"})

    samples = wait_until(lambda: (s := _samples(http_text(f"{url}/metrics")))
                         and s[("swarmdeploy_disconnects_total", (("reason", "client_disconnect"),))] == 1 and s, 10,
                         "disconnect counted")
    assert samples[("swarmdeploy_connects_total", ())] == 2
    assert samples[("swarmdeploy_connected_clients", ())] == 1
    assert samples[("swarmdeploy_events_emitted_total", (("event", "pong"),))] == 6
    assert samples[("swarmdeploy_events_published_total", ())] == 6
    assert samples[("swarmdeploy_events_emitted_total", (("event", "batch"),))] == 2
    assert samples[("swarmdeploy_batch_size_count", ())] == 2 and samples[("swarmdeploy_batch_size_sum", ())] == 6
    assert samples[("swarmdeploy_handshake_errors_total", (("reason", "origin"),))] == 1
    with pytest.raises(urllib.error.HTTPError) as refused:
        http_text(f"{url}/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert refused.value.code == 404


def test_swarmdeploy_serve_runs_an_instance(supervisor, tmp_path):
    swarmdeploy = require_tool("swarmdeploy")
    profile = write_profile(tmp_path)
    missing = subprocess.run([swarmdeploy, "serve", str(profile), "--instance", "1"], capture_output=True, text=True,
                             timeout=60)
    assert missing.returncode == 2 and "instance 1 does not exist" in missing.stderr  # a usage error
    port = profile_port(profile)
    process = supervisor.start([swarmdeploy, "serve", str(profile)], label="serve", stop_signal=signal.SIGINT)
    instance = Instance(port, process, "serve")
    health = wait_until(instance.health, 20, "swarmdeploy serve", process, lambda: supervisor.log("serve"))
    assert health["instance"].endswith(f":{port}") and health["async_mode"] == "gevent"
    assert health["pid"] != process.pid  # serve exec'd gunicorn, whose single worker answers
    assert "gunicorn" in open(f"/proc/{process.pid}/cmdline").read()
