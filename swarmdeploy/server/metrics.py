"""Prometheus metrics of one instance: what clients did, and each failure of the troubleshooting guide and
FACTS.md §5 as a number (docs/monitoring.md maps every metric to the alert that reads it).

Each app gets its own registry, so several apps in one process (tests) never share counters. Every label
takes values from a fixed set (transport, reason, event name), never a sid or an address.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sized
from typing import Any
from urllib.parse import parse_qs

from engineio import packet
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10000)
# Seconds. The guide's latency bands (50 / 150 / 300 ms) are bucket bounds, so an alert on the p95 crossing a
# band reads whole buckets instead of interpolating across the band.
ROUND_TRIP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5, 10, 30)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
LAG_INTERVAL = 0.5  # seconds the lag probe sleeps; it measures how much later than that it wakes up

TRANSPORTS = ("websocket", "polling")
# python-engineio's disconnect reasons (engineio.Server.reason) as label values; anything else is "other".
DISCONNECT_REASONS = ("client_disconnect", "server_disconnect", "ping_timeout", "transport_close",
                      "transport_error", "other")
# Why Engine.IO refused a request (HTTP 400), or the connect handler refused a token ("auth").
REFUSAL_REASONS = ("origin", "unknown_sid", "auth", "protocol_version", "upgrade", "transport",
                   "payload_too_large", "other")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        ProcessCollector(registry=r)  # resident memory and open files: "memory grows for days", fd limits
        self.connected = Gauge("swarmdeploy_connected_clients", "Socket.IO clients connected now", registry=r)
        self.connects = Counter("swarmdeploy_connects", "Socket.IO connections accepted", registry=r)
        self.disconnects = Counter("swarmdeploy_disconnects", "Socket.IO disconnections, by python-engineio's reason",
                                   ["reason"], registry=r)
        self.emitted = Counter("swarmdeploy_events_emitted", "Events this instance emitted, by event name",
                               ["event"], registry=r)
        self.published = Counter("swarmdeploy_events_published", "Events published to rooms on this instance",
                                 registry=r)
        self.batch_size = Histogram("swarmdeploy_batch_size", "Events per batch message", buckets=BATCH_BUCKETS,
                                    registry=r)
        self.handshake_errors = Counter(
            "swarmdeploy_handshake_errors",
            "Refused Socket.IO requests: Engine.IO's HTTP 400s by cause, and tokens the connect handler refused (auth)",
            ["reason"], registry=r)
        self.round_trip = Histogram("swarmdeploy_ping_round_trip_seconds",
                                    "Engine.IO heartbeat: from the server's PING to the client's PONG",
                                    buckets=ROUND_TRIP_BUCKETS, registry=r)
        self.loop_lag = Histogram("swarmdeploy_event_loop_lag_seconds",
                                  f"How much later than asked a task sleeping {LAG_INTERVAL} s wakes: the delay the "
                                  "gevent hub (or the threads) adds to every handler", buckets=LAG_BUCKETS, registry=r)
        # Every label value exists from the start: a rate() over a series that appears late misses its first step.
        for reason in DISCONNECT_REASONS:
            self.disconnects.labels(reason)
        for reason in REFUSAL_REASONS:
            self.handshake_errors.labels(reason)
        # The gauge cannot be read back through a public API; healthz needs the number.
        self._clients = 0
        # Pongs, the one event counted per round trip: a plain integer the ping path adds to, moved into the
        # counter when Prometheus asks. The counter's lock (gevent's, once the worker is patched) took ~6 % of an
        # instance's busy samples in py-spy (docs/benchmarks.md). Exact under gevent, which switches
        # only where a greenlet blocks; under threads two increments can rarely race (a metric, not a ledger).
        self.pongs_sent = 0
        self._pongs_counted = 0
        self._lock = threading.Lock()
        self._lag_probe_started = False

    @property
    def clients(self) -> int:
        return self._clients

    def client_connected(self) -> None:
        with self._lock:
            self._clients += 1
        self.connects.inc()
        self.connected.inc()

    def client_disconnected(self, reason: str | None = None) -> None:
        with self._lock:
            self._clients -= 1
        label = (reason or "client disconnect").replace(" ", "_")
        self.disconnects.labels(label if label in DISCONNECT_REASONS else "other").inc()
        self.connected.dec()

    def watch(self, socketio_server: Any, queue: Any | None, history: Any) -> None:
        """Read sessions, the queue and history at each scrape; time heartbeats and the loop from the first connect."""
        eio = socketio_server.eio
        self.registry.register(_ScrapeTime(eio, queue, history))
        socketio_connect = eio.handlers["connect"]

        def connect(eio_sid: str, environ: dict[str, Any]) -> Any:
            session = eio.sockets.get(eio_sid)
            if session is not None:
                self._time_pongs(session)
            self._start_lag_probe(eio)
            return socketio_connect(eio_sid, environ)

        eio.on("connect", connect)

    def _time_pongs(self, session: Any) -> None:
        """Observe each PONG's delay after the PING that engineio sent at `last_ping`.

        The session keeps the wrapper; the wrapper keeps only a weak reference back, so a closed session
        is freed by reference counting, not left as a cycle for the collector (runtime.py).
        """
        ref, receive, observe = weakref.ref(session), type(session).receive, self.round_trip.observe

        def timed_receive(pkt: Any) -> Any:
            this = ref()
            if pkt.packet_type == packet.PONG and this.last_ping:
                observe(time.time() - this.last_ping)
            return receive(this, pkt)

        session.receive = timed_receive

    def _start_lag_probe(self, eio: Any) -> None:
        # Started with the first client, as python-engineio starts its own service task: an app built in a
        # test and never connected to leaves no thread behind.
        with self._lock:
            if self._lag_probe_started:
                return
            self._lag_probe_started = True
        eio.start_background_task(self._probe_lag, eio.sleep)

    def _probe_lag(self, sleep: Callable[[float], Any]) -> None:
        while True:
            started = time.monotonic()
            sleep(LAG_INTERVAL)
            self.loop_lag.observe(max(0.0, time.monotonic() - started - LAG_INTERVAL))

    def exposition(self) -> bytes:
        with self._lock:
            sent = self.pongs_sent
            self.emitted.labels("pong").inc(sent - self._pongs_counted)
            self._pongs_counted = sent
        return generate_latest(self.registry)


class _ScrapeTime:
    """Values read when Prometheus asks rather than kept up to date: sessions by transport (an upgrade has
    no event to count it by), history size, and the message queue as /healthz sees it."""

    def __init__(self, eio: Any, queue: Any | None, history: Any) -> None:
        self.eio, self.queue, self.history = eio, queue, history

    def describe(self) -> Iterator[Metric]:
        # Without it the registry would call collect() to learn the names, pinging Redis at app creation.
        return self._families(sample=False)

    def collect(self) -> Iterator[Metric]:
        return self._families(sample=True)

    def _families(self, sample: bool) -> Iterator[Metric]:
        sessions = GaugeMetricFamily("swarmdeploy_sessions", "Engine.IO sessions open now, by transport: "
                                     "polling until an upgrade succeeds (a drop of websocket: a proxy lost Upgrade)",
                                     labels=["transport"])
        history = GaugeMetricFamily("swarmdeploy_history_events", "Events the in-memory history holds for replay; "
                                    "0 with a message queue, where history lives in Redis, capped at "
                                    "socketio.history_limit")
        if sample:
            counts = dict.fromkeys(TRANSPORTS, 0)
            for session in list(self.eio.sockets.values()):
                if not session.closed:
                    counts["websocket" if session.upgraded else "polling"] += 1
            for transport, count in counts.items():
                sessions.add_metric([transport], count)
            history.add_metric([], len(self.history) if isinstance(self.history, Sized) else 0)
        yield sessions
        yield history
        if self.queue is None:
            return
        reachable = GaugeMetricFamily("swarmdeploy_message_queue_reachable",
                                      "1 while Redis answers a PING and the listener is not reconnecting (as /healthz)")
        failures = CounterMetricFamily("swarmdeploy_message_queue_publish_failures",
                                       "Broadcasts python-socketio could not publish to Redis (lost to other instances)")
        if sample:
            state = self.queue.status()
            reachable.add_metric([], int(state["reachable"] and state["listener"] != "reconnecting"))
            failures.add_metric([], self.queue.manager.publish_failures)
        yield reachable
        yield failures


def refusal_reason(environ: dict[str, Any], body: bytes) -> str:
    """Why python-engineio answered 400, from its message (engineio/server.py: handle_request)."""
    message = body.decode("utf-8", "replace").strip('"')
    query = parse_qs(environ.get("QUERY_STRING", ""))
    wants_websocket = query.get("transport") == ["websocket"]
    if message == "Not an accepted origin.":
        return "origin"
    if message.startswith("Invalid session"):
        return "unknown_sid"
    if message.startswith("The client is using an unsupported version"):
        return "protocol_version"
    if message in ("Invalid websocket upgrade", "Invalid transport"):
        # A WebSocket request that arrives without Upgrade: a proxy on the way dropped the header.
        return "upgrade" if wants_websocket and not environ.get("HTTP_UPGRADE") else "transport"
    if message == "Bad Request" and environ.get("REQUEST_METHOD") == "POST":
        return "payload_too_large"  # the one error a polling POST raises: over max_http_buffer_size
    return "other"


class HandshakeErrorCounter:
    """Counts Engine.IO requests (on the socket path) refused with 4xx, by reason.

    Origin, protocol, transport and session refusals happen inside python-engineio before any handler
    runs, so the response is the only place to see them. Its 400 body is one short JSON string.
    """

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]], socketio_path: str, metrics: Metrics) -> None:
        self.wsgi_app = wsgi_app
        self.prefix = socketio_path.rstrip("/") + "/"
        self.metrics = metrics

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not (environ.get("PATH_INFO", "") + "/").startswith(self.prefix):
            return self.wsgi_app(environ, start_response)
        refused = False

        def noting_start_response(status: str, headers: Any, *args: Any) -> Any:
            nonlocal refused
            refused = status[:1] == "4"
            return start_response(status, headers, *args)

        body = self.wsgi_app(environ, noting_start_response)
        if refused:
            # A refusal is a list holding the message; anything else (never seen) is counted unread.
            reason = refusal_reason(environ, b"".join(body)) if isinstance(body, list) else "other"
            self.metrics.handshake_errors.labels(reason).inc()
        return body
