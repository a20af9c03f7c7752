"""The app factory gunicorn calls: `swarmdeploy.server:create_app()`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_socketio import SocketIO

from swarmdeploy.server import codec
from swarmdeploy.server.broadcast import Publisher
from swarmdeploy.server.config import ServerConfig, load_config
from swarmdeploy.server.events import register_events
from swarmdeploy.server.history import make_history
from swarmdeploy.server.instances import Roster
from swarmdeploy.server.metrics import HandshakeErrorCounter, Metrics
from swarmdeploy.server.queue import MessageQueue
from swarmdeploy.server.routes import register_routes
from swarmdeploy.server.runtime import RefuseNewSessionsWhileStopping, close_transports_on_stop, tune_gc, tune_gevent


def _cors(origins: tuple[str, ...]) -> str | list[str] | None:
    # [] would switch CORS handling off entirely; no origins means same-origin only (None).
    if "*" in origins:
        return "*"
    return list(origins) or None


def message_queue(config: ServerConfig) -> MessageQueue | None:
    # One channel per deployment, so two profiles sharing a Redis never cross-deliver.
    return MessageQueue(config.message_queue, f"swarmdeploy-{config.name}") if config.message_queue else None


def socketio_options(config: ServerConfig, queue: MessageQueue | None) -> dict[str, Any]:
    """Every Flask-SocketIO / Engine.IO option comes from the profile; async_mode is always pinned
    (an installed eventlet would otherwise win, FACTS.md §1)."""
    options: dict[str, Any] = {
        "async_mode": config.async_mode,
        "path": config.socketio_path,
        "transports": list(config.transports),
        "allow_upgrades": config.allow_upgrades,
        "ping_interval": config.ping_interval,
        "ping_timeout": config.ping_timeout,
        "max_http_buffer_size": config.max_http_buffer_size,
        "compression_threshold": config.compression_threshold,
        "cors_allowed_origins": _cors(config.cors_allowed_origins),
        "cookie": config.cookie,
        # No Flask session per connection: nothing here uses it, and it costs memory per client.
        "manage_session": False,
        # Every packet is encoded with it: orjson where it can (codec.py, docs/benchmarks.md).
        "json": codec,
        "logger": config.log_level == "debug",
        "engineio_logger": config.log_level == "debug",
    }
    if queue is not None:
        # Our manager rather than the one Flask-SocketIO builds from message_queue=: its listener
        # reports its state to /healthz and resubscribes promptly after an outage (queue.py).
        options["client_manager"] = queue.manager
    return options


def create_app(config: ServerConfig | Mapping[str, Any] | None = None) -> Flask:
    """The Flask app with Socket.IO, from SWARMDEPLOY_* variables (None), a resolved model,
    a mapping of SWARMDEPLOY_* variables, or a ServerConfig."""
    settings = load_config(config)
    logging.getLogger("swarmdeploy").setLevel(settings.log_level.upper())
    app = Flask(__name__)
    app.config["SWARMDEPLOY"] = settings
    queue = message_queue(settings)
    socketio = SocketIO(app, **socketio_options(settings, queue))
    metrics = Metrics()
    history = make_history(settings.message_queue, settings.name, settings.history_limit)
    publisher = Publisher(socketio, history, metrics, settings.instance_id, settings.batch_interval,
                          settings.batch_max_size)
    register_events(socketio, settings, metrics, publisher, history)
    roster = Roster(settings, metrics, queue)
    register_routes(app, settings, metrics, publisher, queue, roster)
    # Wrap after SocketIO(app) installed its middleware, so refused handshakes are seen.
    app.wsgi_app = HandshakeErrorCounter(app.wsgi_app, settings.socketio_path, metrics)  # type: ignore[method-assign]
    refuse = RefuseNewSessionsWhileStopping(app.wsgi_app, settings.socketio_path)
    app.wsgi_app = refuse  # type: ignore[method-assign]
    metrics.watch(socketio.server, queue, history)
    app.extensions["swarmdeploy"] = {"socketio": socketio, "metrics": metrics, "history": history,
                                     "publisher": publisher, "queue": queue}
    close_transports_on_stop(socketio, publisher.send_at_once, refuse)
    if queue is not None:
        queue.listen_now(socketio.server)
    roster.start(socketio)
    if settings.async_mode == "gevent":
        tune_gevent()
        from swarmdeploy.server import websocket  # imports gevent: only in gevent mode

        websocket.install(socketio.server.eio)
    tune_gc()
    return app
