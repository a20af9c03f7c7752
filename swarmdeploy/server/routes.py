"""HTTP routes: /healthz, /metrics, POST /api/publish, GET /api/instances, /favicon.ico and the status page at /."""

from __future__ import annotations

import ipaddress
import os
import time
from typing import Any

from flask import Flask, Response, jsonify, render_template, request, url_for

from swarmdeploy import __version__
from swarmdeploy.server.broadcast import Publisher
from swarmdeploy.server.config import ServerConfig
from swarmdeploy.server.events import NAME, token_matches
from swarmdeploy.server.instances import Roster, health
from swarmdeploy.server.metrics import Metrics
from swarmdeploy.server.queue import RETRY_AFTER, UNREACHABLE, MessageQueue, QueueUnreachable

# The page loads only what this instance serves: no CDN, no inline script.
STATUS_PAGE_CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'"


def _is_loopback_client() -> bool:
    """A direct loopback client: anything nginx proxies also comes from 127.0.0.1 but adds
    X-Forwarded-For and X-Real-IP (the rendered site always sets them), so proxied requests never count."""
    if any(request.headers.get(name) for name in ("X-Forwarded-For", "X-Real-IP", "Forwarded")):
        return False
    try:
        return ipaddress.ip_address(request.environ.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def register_routes(app: Flask, config: ServerConfig, metrics: Metrics, publisher: Publisher,
                    queue: MessageQueue | None, roster: Roster) -> None:
    started = time.monotonic()

    @app.get("/healthz")
    def healthz() -> Response:
        # 200 while this instance serves its own clients, even with the queue down: every instance and
        # host shares the one Redis, so a balancer taking out every instance that reports it down would
        # turn a broadcast outage into a full one. "degraded" and queue.reachable say it instead.
        status, state = health(queue)
        answer: dict[str, Any] = {"status": status}
        if not _is_loopback_client():
            # Through the proxy or from another host: no pid, host name, version or queue address.
            if state is not None:
                answer["queue"] = {"reachable": state["reachable"]}
            return jsonify(answer)
        return jsonify({**answer, "instance": config.instance_id, "name": config.name, "async_mode": config.async_mode,
                        "clients": metrics.clients, "uptime": round(time.monotonic() - started, 3),
                        "version": __version__, "pid": os.getpid(), "queue": state})

    @app.get("/metrics")
    def prometheus_metrics() -> tuple[Any, int] | Response:
        if not (config.metrics_public or _is_loopback_client()):
            return "metrics are served to loopback clients only (server.metrics_public: false)\n", 404
        return Response(metrics.exposition(), mimetype="text/plain; version=0.0.4; charset=utf-8")

    @app.post("/api/publish")
    def http_publish() -> tuple[Response, int]:
        if config.publish_token is None:
            return jsonify(ok=False, error="publishing over HTTP is off: set server.publish_token_env"), 403
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token_matches(config.publish_token, token):
            return jsonify(ok=False, error="send Authorization: Bearer <publish token>"), 401
        body = request.get_json(silent=True)
        room = body.get("room") if isinstance(body, dict) else None
        event = body.get("event", "message") if isinstance(body, dict) else None
        if not (isinstance(room, str) and NAME.match(room) and isinstance(event, str) and NAME.match(event)):
            return jsonify(ok=False, error='send JSON {"room": ..., "event"?: ..., "data": ...}'), 400
        record = publisher.publish(room, event, body.get("data"))
        return jsonify(ok=True, seq=record["seq"], epoch=record["epoch"], instance=config.instance_id), 202

    @app.get("/api/instances")
    def instances() -> tuple[Response, int] | Response:
        # Public like the status page that reads it, unless clients need a token: then this needs it too.
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if config.auth_token is not None and not (scheme.lower() == "bearer" and token_matches(config.auth_token, token)):
            return jsonify(ok=False, error="send Authorization: Bearer <client token>"), 401
        response = jsonify(roster.all())
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(QueueUnreachable)
    def queue_unreachable(_error: QueueUnreachable) -> tuple[Response, int, dict[str, str]]:
        return jsonify(UNREACHABLE), 503, {"Retry-After": str(RETRY_AFTER)}

    @app.get("/favicon.ico")
    def favicon() -> tuple[str, int, dict[str, str]]:
        # The status page declares an empty icon (templates/status.html); a browser opening /healthz or
        # /metrics directly still asks for this one: no content, cached for a day, instead of a 404.
        return "", 204, {"Cache-Control": "public, max-age=86400"}

    def socketio_endpoint() -> tuple[str, int]:
        return "served by Engine.IO\n", 404

    # Never reached over HTTP: the Engine.IO middleware answers this path first. Flask-SocketIO
    # pushes a request context with the handshake's URL for every event; without a matching
    # rule each event raises and keeps a NotFound (a traceback cycle of ~50 objects), and
    # collecting that garbage was the largest latency pause under load (docs/benchmarks.md).
    # Two rules: werkzeug matches WebSocket handshakes only against websocket rules.
    app.add_url_rule(f"{config.socketio_path}/", "socketio_polling", socketio_endpoint, methods=["GET", "POST"])
    app.add_url_rule(f"{config.socketio_path}/", "socketio_websocket", socketio_endpoint, websocket=True)

    @app.get("/")
    def status_page() -> Response:
        page = {
            "path": config.socketio_path,
            "transports": list(config.transports),
            "allowUpgrades": config.allow_upgrades,
            "authRequired": config.auth_token is not None,
            "instancesUrl": url_for("instances"),
        }
        response = Response(render_template("status.html", page=page, name=config.name))
        response.headers["Content-Security-Policy"] = STATUS_PAGE_CSP
        response.headers["Cache-Control"] = "no-store"
        return response
