"""Prometheus metrics of one instance, and the WSGI wrapper that counts refused handshakes.

Each app gets its own registry, so several apps in one process (tests) never share counters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10000)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.connected = Gauge("swarmdeploy_connected_clients", "Socket.IO clients connected now", registry=r)
        self.connects = Counter("swarmdeploy_connects", "Socket.IO connections accepted", registry=r)
        self.disconnects = Counter("swarmdeploy_disconnects", "Socket.IO disconnections", registry=r)
        self.emitted = Counter("swarmdeploy_events_emitted", "Events this instance emitted, by event name",
                               ["event"], registry=r)
        self.published = Counter("swarmdeploy_events_published", "Events published to rooms on this instance",
                                 registry=r)
        self.batch_size = Histogram("swarmdeploy_batch_size", "Events per batch message", buckets=BATCH_BUCKETS,
                                    registry=r)
        self.handshake_errors = Counter("swarmdeploy_handshake_errors",
                                        "Refused handshakes: reason=auth (bad token) or engineio (HTTP 4xx)",
                                        ["reason"], registry=r)
        # The gauge cannot be read back through a public API; healthz needs the number.
        self._clients = 0
        self._lock = threading.Lock()

    @property
    def clients(self) -> int:
        return self._clients

    def client_connected(self) -> None:
        with self._lock:
            self._clients += 1
        self.connects.inc()
        self.connected.inc()

    def client_disconnected(self) -> None:
        with self._lock:
            self._clients -= 1
        self.disconnects.inc()
        self.connected.dec()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class HandshakeErrorCounter:
    """Counts Engine.IO handshakes (requests on the socket path without a sid) answered with 4xx.

    Origin and transport refusals happen inside python-engineio before any handler runs, so
    the response status is the only place to see them.
    """

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]], socketio_path: str, metrics: Metrics) -> None:
        self.wsgi_app = wsgi_app
        self.prefix = socketio_path.rstrip("/") + "/"
        self.metrics = metrics

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not (path + "/").startswith(self.prefix) or "sid=" in environ.get("QUERY_STRING", ""):
            return self.wsgi_app(environ, start_response)

        def counting_start_response(status: str, headers: Any, *args: Any) -> Any:
            if status[:1] == "4":
                self.metrics.handshake_errors.labels("engineio").inc()
            return start_response(status, headers, *args)

        return self.wsgi_app(environ, counting_start_response)
