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
