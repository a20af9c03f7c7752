"""Bounded event history, so a client that reconnects can ask for what it missed.

One store per deployment: in memory for a single instance, in Redis (a capped list) when a
message queue is configured, so a client reconnecting to another instance sees the same events.
Both keep at most `limit` events in total, whatever the number of rooms: memory stays flat.

Sequence numbers never go back when a store starts empty (an instance restart, a Redis restarted
without persistence): they start from the clock in microseconds. Clients skip events whose seq is
not above the last one they saw (static/status.js), so a counter starting again at 1 would hide
every new event from a page that stayed open.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from typing import Any, Protocol

from swarmdeploy.server.queue import connect, reaching_queue

Event = dict[str, Any]

# Seeds a missing counter from the clock, then increments: one round trip, atomic across instances.
NEXT_SEQ = """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end
return redis.call('INCR', KEYS[1])
"""


def _clock_seq() -> int:
    """Microseconds since the epoch: exact in JavaScript (below 2**53) until the year 2255."""
    return time.time_ns() // 1000


class History(Protocol):
    def next_seq(self) -> int: ...

    def add(self, event: Event) -> None: ...

    def since(self, room: str, seq: int, limit: int) -> list[Event]: ...


def _select(events: list[Event], room: str, seq: int, limit: int) -> list[Event]:
    chosen = [e for e in events if e["room"] == room and e["seq"] > seq]
    return chosen[-limit:] if limit else []


class MemoryHistory:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._events: deque[Event] = deque(maxlen=limit or 1)
        self._seq = itertools.count(_clock_seq())
        self._lock = threading.Lock()  # gevent-patched under the gevent worker

    def next_seq(self) -> int:
        with self._lock:
            return next(self._seq)

    def add(self, event: Event) -> None:
        if self.limit:
            self._events.append(event)

    def since(self, room: str, seq: int, limit: int) -> list[Event]:
        return _select(list(self._events), room, seq, min(limit, self.limit))

    def __len__(self) -> int:
        return len(self._events) if self.limit else 0


class RedisHistory:
    """Shared by every instance on the queue; sequence numbers come from one counter.

    Every method raises QueueUnreachable while Redis is down, so the caller is told instead of an
    event being dropped without a word.
    """

    def __init__(self, url: str, name: str, limit: int) -> None:
        self.limit = limit
        self._redis = connect(url)
        self._next_seq = self._redis.register_script(NEXT_SEQ)  # reloaded by redis-py after a Redis restart
        self._list_key = f"swarmdeploy:{name}:history"
        self._seq_key = f"swarmdeploy:{name}:seq"

    def next_seq(self) -> int:
        with reaching_queue():
            return int(self._next_seq(keys=[self._seq_key], args=[_clock_seq()]))

    def add(self, event: Event) -> None:
        if not self.limit:
            return
        pipe = self._redis.pipeline()
        pipe.rpush(self._list_key, json.dumps(event, separators=(",", ":")))
        pipe.ltrim(self._list_key, -self.limit, -1)
        with reaching_queue():
            pipe.execute()

    def since(self, room: str, seq: int, limit: int) -> list[Event]:
        if not self.limit:
            return []
        with reaching_queue():
            raw = self._redis.lrange(self._list_key, 0, -1)
        return _select([json.loads(item) for item in raw], room, seq, min(limit, self.limit))


def make_history(message_queue: str | None, name: str, limit: int) -> History:
    return RedisHistory(message_queue, name, limit) if message_queue else MemoryHistory(limit)
