"""Process tuning for a long-running server with thousands of connections.

Measured (FACTS.md §1b, docs/benchmarks.md): the ~105 ms p99 of a Python Socket.IO server is
the cyclic garbage collector. Freezing the start-up objects takes them out of every collection,
and higher thresholds make collections rare; refcounting frees almost everything (the server
creates next to no cyclic garbage per event, see routes.py), so memory stays flat.
"""

from __future__ import annotations

import gc

# gen0 collections after this many net allocations (default 700); older generations every
# 20 / 100 younger collections (defaults 10 / 10).
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def tune_gevent() -> None:
    """Greenlets stop recording who spawned them (gevent's `track_greenlet_tree`, on by default).

    Each WebSocket has two long-lived greenlets (gunicorn's handler and simple-websocket's
    reader), and each kept its spawning stack (~17 `_Frame` objects with their code and line
    references), a weak reference to its spawner and the spawn-tree locals: ~5 KiB per
    connection (docs/benchmarks.md). Only gevent's debugging output (`spawning_stack`,
    `gevent.util.GreenletTree`) reads them. Read at every Greenlet creation, so setting it while
    the app loads covers every connection greenlet (the same as GEVENT_TRACK_GREENLET_TREE=0).
    """
    import gevent

    gevent.config.track_greenlet_tree = False
