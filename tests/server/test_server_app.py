"""The app in-process (Flask and Flask-SocketIO test clients): configuration, events, HTTP routes."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from server_stack import unit_command, unit_environment, write_profile

from swarmdeploy.profile import load_profile
from swarmdeploy.render import render_files
from swarmdeploy.server import create_app
from swarmdeploy.server.app import message_queue, socketio_options
from swarmdeploy.server.config import ServerConfigError, config_from_env, env_from_model, load_config
from swarmdeploy.server.serve import instance_command

REPO = Path(__file__).resolve().parents[2]
# What a rendered environment file sets, with small limits for these tests.
BASE = {**env_from_model(load_profile(REPO / "profiles" / "dev.yaml").model),
        "SWARMDEPLOY_NAME": "unit", "SWARMDEPLOY_ASYNC_MODE": "threading", "SWARMDEPLOY_HISTORY_LIMIT": "5",
        "SWARMDEPLOY_BATCH_INTERVAL": "30", "SWARMDEPLOY_BATCH_MAX_SIZE": "3", "SWARMDEPLOY_CORS_ALLOWED_ORIGINS": ""}


def _parts(app):
    ext = app.extensions["swarmdeploy"]
    return ext["socketio"], ext["publisher"], ext["metrics"]


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_prod_profile_reaches_every_socketio_option():
    config = load_config(load_profile(REPO / "profiles" / "prod.yaml").model)
    options = socketio_options(config, message_queue(config))
    assert options["async_mode"] == "gevent"  # always explicit (FACTS.md §1)
    manager = options["client_manager"]
    assert (manager.redis_url, manager.channel) == ("redis://127.0.0.1:6379/0", "swarmdeploy-swarmbot")
    assert options["cors_allowed_origins"] == ["https://dashboard.example.com"]
    assert (options["ping_interval"], options["ping_timeout"]) == (25, 20)
    assert options["transports"] == ["websocket", "polling"]
    assert (options["max_http_buffer_size"], options["compression_threshold"]) == (1_000_000, 1024)
    assert options["path"] == "/socket.io" and options["cookie"] is None
    assert (config.batch_interval, config.batch_max_size, config.history_limit) == (0.1, 50, 1000)


def test_serve_runs_exactly_the_unit_command(tmp_path):
    profile = write_profile(tmp_path, instances=2, message_queue="redis://127.0.0.1:6379/0",
                            socketio={"cookie": "io"})
    model = load_profile(profile).model
    files = render_files(model)
    port = model["server"]["ports"][1]
    argv, env = instance_command(model, 1, gunicorn=f"{model['server']['venv']}/bin/gunicorn")
    assert argv == unit_command(files, "swarmtest", port)
    assert env == unit_environment(files, "swarmtest", port)
    assert env["SWARMDEPLOY_COOKIE"] == "io" and env == {**env_from_model(model), "SWARMDEPLOY_PORT": str(port)}


def test_serve_refuses_an_instance_the_profile_lacks(tmp_path):
    model = load_profile(write_profile(tmp_path)).model
    with pytest.raises(Exception, match="instance 3 does not exist"):
        instance_command(model, 3)


def test_named_token_variable_must_be_set():
    with pytest.raises(ServerConfigError, match=r"server.auth_token_env names \$SD_TEST_UNSET_TOKEN"):
        config_from_env({**BASE, "SWARMDEPLOY_AUTH_TOKEN_ENV": "SD_TEST_UNSET_TOKEN"})
    with pytest.raises(ServerConfigError, match="SWARMDEPLOY_NAME is not set"):
        config_from_env({})
    incomplete = {k: v for k, v in BASE.items() if k != "SWARMDEPLOY_PING_INTERVAL"}
    with pytest.raises(ServerConfigError, match="SWARMDEPLOY_PING_INTERVAL is not set"):
        config_from_env(incomplete)


def test_no_origins_means_same_origin_not_cors_off():
    assert socketio_options(config_from_env(BASE), None)["cors_allowed_origins"] is None
    star = config_from_env({**BASE, "SWARMDEPLOY_CORS_ALLOWED_ORIGINS": "*"})
    assert socketio_options(star, None)["cors_allowed_origins"] == "*"


def test_ping_pong_echoes_payload_time_and_instance():
    app = create_app({**BASE, "SWARMDEPLOY_PORT": "8123"})
    socketio, _, _ = _parts(app)
    client = socketio.test_client(app)
    answer = client.emit("ping", {"n": 7}, callback=True)
    assert answer["payload"] == {"n": 7} and answer["instance"].startswith("unit@") and answer["instance"].endswith(":8123")
    assert isinstance(answer["time"], float)
    assert [m["name"] for m in client.get_received()] == ["pong"]


def test_rooms_batching_and_history():
    app = create_app(BASE)
    socketio, publisher, _ = _parts(app)
    reader, writer, outsider = (socketio.test_client(app) for _ in range(3))
    assert reader.emit("subscribe", {"room": "r1"}, callback=True)["ok"]
    assert not reader.emit("subscribe", {"room": "bad room!"}, callback=True)["ok"]
    for i in range(4):  # max_size 3: one full batch now, one pending
        assert writer.emit("publish", {"room": "r1", "event": "tick", "data": i}, callback=True)["ok"]
    batches = [m["args"][0] for m in reader.get_received() if m["name"] == "batch"]
    assert [[e["data"] for e in b["events"]] for b in batches] == [[0, 1, 2]]
    publisher.flush()
    batches = [m["args"][0] for m in reader.get_received() if m["name"] == "batch"]
    assert [[e["data"] for e in b["events"]] for b in batches] == [[3]]
    assert outsider.get_received() == []  # not subscribed
    for i in range(4, 10):
        writer.emit("publish", {"room": "r1", "data": i})
    history = reader.emit("history", {"room": "r1", "since": 0}, callback=True)["events"]
    assert [e["data"] for e in history] == [5, 6, 7, 8, 9]  # history_limit 5
    since = reader.emit("history", {"room": "r1", "since": history[2]["seq"]}, callback=True)["events"]
    assert [e["data"] for e in since] == [8, 9]
    assert reader.emit("unsubscribe", {"room": "r1"}, callback=True)["ok"]


def test_auth_token_refuses_and_accepts(monkeypatch):
    monkeypatch.setenv("SD_TEST_TOKEN", "s3cret")
    app = create_app({**BASE, "SWARMDEPLOY_AUTH_TOKEN_ENV": "SD_TEST_TOKEN"})
    socketio, _, metrics = _parts(app)
    assert not socketio.test_client(app).is_connected()
    assert not socketio.test_client(app, auth={"token": "wrong"}).is_connected()
    assert socketio.test_client(app, auth={"token": "s3cret"}).is_connected()
    samples = _samples(metrics.exposition().decode())
    assert samples[("swarmdeploy_handshake_errors_total", (("reason", "auth"),))] == 2
    assert samples[("swarmdeploy_connects_total", ())] == 1


def test_metrics_only_for_direct_loopback_clients():
    app = create_app(BASE)
    http = app.test_client()
    assert http.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    assert http.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 404
    # Through nginx every client arrives from 127.0.0.1, with X-Forwarded-For.
    proxied = http.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={"X-Forwarded-For": "1.2.3.4"})
    assert proxied.status_code == 404
    public = create_app({**BASE, "SWARMDEPLOY_METRICS_PUBLIC": "true"}).test_client()
    assert public.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200


def test_http_publish_needs_the_token(monkeypatch):
    assert create_app(BASE).test_client().post("/api/publish", json={"room": "r"}).status_code == 403
    monkeypatch.setenv("SD_TEST_PUBLISH", "pub")
    app = create_app({**BASE, "SWARMDEPLOY_PUBLISH_TOKEN_ENV": "SD_TEST_PUBLISH"})
    http = app.test_client()
    assert http.post("/api/publish", json={"room": "r"}, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert http.post("/api/publish", json={"room": "a b"}, headers={"Authorization": "Bearer pub"}).status_code == 400
    ok = http.post("/api/publish", json={"room": "r", "data": 1}, headers={"Authorization": "Bearer pub"})
    assert ok.status_code == 202 and ok.json["seq"] > 0
    socketio, _, _ = _parts(app)
    client = socketio.test_client(app)
    assert not client.emit("publish", {"room": "r"}, callback=True)["ok"]
    assert client.emit("publish", {"room": "r", "token": "pub"}, callback=True)["ok"]


LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}
DETAILS = {"instance", "name", "async_mode", "clients", "uptime", "version", "pid", "queue"}


def test_healthz_details_only_for_direct_loopback_clients():
    http = create_app(BASE).test_client()
    health = http.get("/healthz", environ_base=LOOPBACK).json
    assert health["status"] == "ok" and health["async_mode"] == "threading" and health["clients"] == 0
    assert set(health) == {"status", *DETAILS} and health["queue"] is None  # no message queue configured
    assert http.get("/healthz", environ_base={"REMOTE_ADDR": "::1"}).json["pid"] == health["pid"]
    # Through nginx every request comes from loopback, with forwarding headers: status only.
    for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
        proxied = http.get("/healthz", environ_base=LOOPBACK, headers={header: "203.0.113.9"})
        assert proxied.status_code == 200 and proxied.json == {"status": "ok"}, header
    assert http.get("/healthz", environ_base={"REMOTE_ADDR": "10.1.2.3"}).json == {"status": "ok"}


def test_unreachable_queue_is_reported_without_its_password(monkeypatch):
    """Nothing listens on port 1: refused at once, as a stopped Redis on its own port."""
    monkeypatch.setenv("SD_TEST_PUBLISH", "pub")
    app = create_app({**BASE, "SWARMDEPLOY_MESSAGE_QUEUE": "redis://:s3cret@127.0.0.1:1/0",
                      "SWARMDEPLOY_PUBLISH_TOKEN_ENV": "SD_TEST_PUBLISH"})
    http = app.test_client()
    health = http.get("/healthz", environ_base=LOOPBACK).json
    assert health["status"] == "degraded" and "s3cret" not in str(health)
    assert health["queue"]["url"] == "redis://:***@127.0.0.1:1/0" and health["queue"]["reachable"] is False
    # The listener starts with the app (queue.py listen_now): it is starting or retrying, never subscribed.
    assert "refused" in health["queue"]["error"] and health["queue"]["listener"] in ("idle", "reconnecting")
    assert http.get("/healthz", headers={"X-Forwarded-For": "203.0.113.9"}).json == {
        "status": "degraded", "queue": {"reachable": False}}
    refused = http.post("/api/publish", json={"room": "r", "data": 1}, headers={"Authorization": "Bearer pub"})
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert refused.json == {"ok": False, "error": "message queue unreachable", "retry_after": 1}


def test_status_page_settings_and_no_favicon_requests():
    app = create_app({**BASE, "SWARMDEPLOY_SOCKETIO_PATH": "/live/sio", "SWARMDEPLOY_TRANSPORTS": "polling"})
    http = app.test_client()
    page = http.get("/")
    assert page.status_code == 200 and "script-src" not in page.headers["Content-Security-Policy"]
    text = page.get_data(as_text=True)
    assert '"path": "/live/sio"' in text and '"transports": ["polling"]' in text
    assert "/static/socket.io.min.js" in text and "//cdn" not in text
    # The page declares an empty icon, which its CSP allows; /favicon.ico answers without a 404 too.
    assert '<link rel="icon" href="data:,">' in text
    assert "img-src 'self' data:" in page.headers["Content-Security-Policy"]
    icon = http.get("/favicon.ico")
    assert icon.status_code == 204 and "max-age" in icon.headers["Cache-Control"]
    client_js = http.get("/static/socket.io.min.js").get_data(as_text=True)
    assert client_js.startswith("/*!\n * Socket.IO v4.")  # EIO=4 client, served locally


def test_gevent_mode_stops_recording_greenlet_spawn_trees():
    """~5 KiB per connection (docs/benchmarks.md); threading mode leaves gevent alone."""
    import gevent

    gevent.config.track_greenlet_tree = True
    create_app({**BASE, "SWARMDEPLOY_ASYNC_MODE": "threading"})
    assert gevent.config.track_greenlet_tree is True
    create_app({**BASE, "SWARMDEPLOY_ASYNC_MODE": "gevent"})
    assert gevent.config.track_greenlet_tree is False


def test_a_stopping_instance_sends_new_sessions_to_the_next_one():
    """What the worker's SIGTERM handler sets (runtime.close_transports_on_stop): new Engine.IO sessions get 503,
    which the site's `proxy_next_upstream ... http_503` passes to the next instance; everything else is served."""
    app = create_app(BASE)
    client = app.test_client()
    handshake = "/socket.io/?EIO=4&transport=polling"
    assert client.get(handshake).status_code == 200
    app.wsgi_app.stopping = True
    refused = client.get(handshake)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "0"
    assert client.get(f"{handshake}&sid=unknown").status_code == 400  # an existing session's request: Engine.IO's
    assert client.get("/healthz").status_code == 200
