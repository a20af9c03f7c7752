"""The Redis message queue as one instance uses it: the Socket.IO manager that carries broadcasts
between instances, the client settings for the shared history, and the state /healthz reports.

While Redis is down an instance keeps serving its own clients (ping never touches Redis, see
events.py), publishing and history answer "message queue unreachable" at once, and the listener
resubscribes by itself when Redis is back: no instance needs a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
import socketio
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from swarmdeploy.redact import redact_url

log = logging.getLogger(__name__)

COMMAND_TIMEOUT = 1.0  # a publish or history read answers within about this even when Redis hangs
PROBE_TIMEOUT = 0.5  # /healthz answers within HAProxy's shortest `timeout check` (1 s) even then
# python-socketio's listener doubles its wait up to 60 s, which left an instance deaf to the others
# for up to a minute after Redis came back; a refused connect every half second costs nothing.
RECONNECT_INTERVAL = 0.5
RETRY_AFTER = 1  # seconds a refused publisher is told to wait (HTTP Retry-After)
UNREACHABLE: dict[str, Any] = {"ok": False, "error": "message queue unreachable", "retry_after": RETRY_AFTER}


class QueueUnreachable(Exception):
    """Redis refused, dropped or did not answer a command in time: the caller is told, never left waiting."""


def connect(url: str, timeout: float = COMMAND_TIMEOUT) -> redis.Redis:
    """A client that gives up within `timeout` (redis-py 8 otherwise retries ten times, seconds per command)."""
    # One retry on a connection error only: a pooled connection that a Redis restart broke reconnects.
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)))


@contextmanager
def reaching_queue() -> Iterator[None]:
    """Redis' connection errors and timeouts as QueueUnreachable; other Redis errors are bugs or
    configuration (OOM, READONLY) and stay as they are."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as error:
        raise QueueUnreachable(str(error)) from error


class QueueManager(socketio.RedisManager):
    """python-socketio's Redis manager with a listener that reports its state and retries every
    RECONNECT_INTERVAL seconds. `listener` is "idle" until MessageQueue.listen_now starts it (at
    start-up), "subscribed", or "reconnecting"."""

    def __init__(self, url: str, channel: str) -> None:
        # Fail fast like connect(); no socket timeout, since the listener blocks reading for good.
        options = {"socket_connect_timeout": COMMAND_TIMEOUT,
                   "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))}
        super().__init__(url, channel=channel, redis_options=options)
        self.listener = "idle"
        self.publish_failures = 0  # read by /metrics

    def _publish(self, data: Any) -> Any:
        # python-socketio logs a failed publish and returns None: count it, or the loss is invisible.
        published = super()._publish(data)
        if published is None:
            self.publish_failures += 1
        return published

    def _listen(self) -> Iterator[bytes]:
        channel = self.channel.encode()
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel)
                self._state("subscribed", None)
                for message in self.pubsub.listen():
                    if message["channel"] == channel and message["type"] == "message" and "data" in message:
                        yield message["data"]
            # Any error ends this subscription: retry whatever it was, since a dead listener is a deaf instance.
            except Exception as error:  # noqa: BLE001
                self._state("reconnecting", error)
                self.server.sleep(RECONNECT_INTERVAL)

    def _state(self, state: str, error: Exception | None) -> None:
        # Logged on changes only: an outage is one line, not two per second.
        if state == "reconnecting" and self.listener != "reconnecting":
            log.error("message queue %s lost (%s): broadcasts from other instances stop until it is back; "
                      "retrying every %s s", redact_url(self.redis_url), error, RECONNECT_INTERVAL)
        elif state == "subscribed" and self.listener == "reconnecting":
            log.warning("message queue %s is back: receiving broadcasts again", redact_url(self.redis_url))
        self.listener = state


class MessageQueue:
    """The deployment's Redis for this instance: the manager Flask-SocketIO uses, and a probe."""

    def __init__(self, url: str, channel: str) -> None:
        self.url = url
        self.manager = QueueManager(url, channel)
        self._probe = connect(url, timeout=PROBE_TIMEOUT)

    def listen_now(self, server: socketio.Server) -> None:
        """Subscribe at start-up, not at the first client's connect (python-socketio's default): a client that
        joined a room on a fresh instance missed every batch sent before the listener subscribed, events that
        history holds but nobody would send it until its next resume."""
        server.manager_initialized = True
        self.manager.initialize()

    def status(self) -> dict[str, Any]:
        """Asked anew on every /healthz (one PING), so it is never stale."""
        try:
            self._probe.ping()
            error = None
        except redis.RedisError as failure:
            error = str(failure)
        return {"url": redact_url(self.url), "reachable": error is None, "listener": self.manager.listener,
                "error": error}
