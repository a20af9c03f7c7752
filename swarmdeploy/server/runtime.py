"""Process tuning for a long-running server with thousands of connections.

Measured (FACTS.md §1b, docs/benchmarks.md): the ~105 ms p99 of a Python Socket.IO server is
the cyclic garbage collector. Freezing the start-up objects takes them out of every collection,
and higher thresholds make collections rare; refcounting frees almost everything (the server
creates next to no cyclic garbage per event, see routes.py), so memory stays flat.
"""

from __future__ import annotations

import gc
import signal
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

# gen0 collections after this many net allocations (default 700); older generations every
# 20 / 100 younger collections (defaults 10 / 10).
GC_THRESHOLDS = (50_000, 20, 100)
# gunicorn's worker checks for a stop once a second and accepts until then: clients it let in are closed too.
CLOSE_AGAIN_EVERY = 0.2


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def tune_gevent() -> None:
    """Greenlets stop recording who spawned them (gevent's `track_greenlet_tree`, on by default).

    Each WebSocket has two long-lived greenlets (gunicorn's handler, which reads the frames,
    websocket.py, and python-engineio's writer), and each kept its spawning stack (~17 `_Frame`
    objects with their code and line references), a weak reference to its spawner and the spawn-tree
    locals: ~5 KiB per connection (docs/benchmarks.md). Only gevent's debugging output
    (`spawning_stack`, `gevent.util.GreenletTree`) reads them. Read at every Greenlet creation, so
    setting it while the app loads covers every connection greenlet (the same as
    GEVENT_TRACK_GREENLET_TREE=0).
    """
    import gevent

    gevent.config.track_greenlet_tree = False


class RefuseNewSessionsWhileStopping:
    """WSGI: once the worker is stopping, a request that would open a new Engine.IO session (no `sid`) is
    answered 503, which nginx passes to the next instance (`proxy_next_upstream ... http_503` in the site),
    rather than accepted and closed moments later. gunicorn's worker accepts for up to a second after SIGTERM,
    and an nginx worker that accepted a client before a drain's reload can still forward it afterwards (a
    stopping instance's log shows such late connections: gunicorn's "Socket error processing request")."""

    def __init__(self, app: Callable[..., Any], socketio_path: str) -> None:
        self.app = app
        self.prefix = socketio_path.rstrip("/") + "/"
        self.stopping = False

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if (self.stopping and environ.get("PATH_INFO", "").startswith(self.prefix)
                and "sid" not in parse_qs(environ.get("QUERY_STRING", ""))):
            start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("Retry-After", "0")])
            return [b"This instance is stopping: connect again (nginx tries the next instance itself).\n"]
        return self.app(environ, start_response)


def close_transports_on_stop(socketio: Any, before_closing: Callable[[], None],
                             refuse: RefuseNewSessionsWhileStopping) -> None:
    """On gunicorn's graceful stop (SIGTERM to the worker: systemd's and the process manager's stop), call
    `before_closing` (the publisher sends what it holds), then close every client's transport, rather than keep
    the WebSockets open until gunicorn's graceful_timeout.

    Closed by Engine.IO, not by Socket.IO's disconnect(): socket.io-client reconnects at once after a
    "transport close" (to another instance, when a drained restart took this one out of nginx) but never
    after an "io server disconnect". A WebSocket is closed without Engine.IO's close packet: python-engineio's
    client takes that packet as a final goodbye and python-socketio's then never reconnects, while a closed
    WebSocket makes both it and socket.io-client reconnect. A long-poll in flight is answered with the close
    packet instead of being cut, which nginx would answer with a 502. Outside a gunicorn worker (an app built
    in a test) nothing is installed.
    """
    from gunicorn.workers.base import Worker

    gunicorns = signal.getsignal(signal.SIGTERM)
    if not isinstance(getattr(gunicorns, "__self__", None), Worker):
        return
    eio = socketio.server.eio

    def close_until_exit() -> None:
        before_closing()
        while True:
            for client in list(eio.sockets.values()):
                # wait=False: a polling client that already went elsewhere never collects its close packet.
                client.close(wait=False, abort=client.upgraded, reason=eio.reason.SERVER_DISCONNECT)
            socketio.sleep(CLOSE_AGAIN_EVERY)

    def stop(signum: int, frame: Any) -> None:
        refuse.stopping = True
        socketio.start_background_task(close_until_exit)
        gunicorns(signum, frame)

    signal.signal(signal.SIGTERM, stop)
