"""Bounded event history, so a client that reconnects can ask for what it missed.

One store per deployment: in memory for a single instance, in Redis (a capped list) when a
message queue is configured, so a client reconnecting to another instance sees the same events.
Both keep at most `limit` events in total, whatever the number of rooms: memory stays flat.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from typing import Any, Protocol

Event = dict[str, Any]


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
        self._seq = itertools.count(1)
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
    """Shared by every instance on the queue; sequence numbers come from one INCR."""

    def __init__(self, url: str, name: str, limit: int) -> None:
        import redis  # only deployments with a message queue need it

        self.limit = limit
        self._redis = redis.Redis.from_url(url)
        self._list_key = f"swarmdeploy:{name}:history"
        self._seq_key = f"swarmdeploy:{name}:seq"

    def next_seq(self) -> int:
        return int(self._redis.incr(self._seq_key))

    def add(self, event: Event) -> None:
        if not self.limit:
            return
        pipe = self._redis.pipeline()
        pipe.rpush(self._list_key, json.dumps(event, separators=(",", ":")))
        pipe.ltrim(self._list_key, -self.limit, -1)
        pipe.execute()

    def since(self, room: str, seq: int, limit: int) -> list[Event]:
        if not self.limit:
            return []
        raw = self._redis.lrange(self._list_key, 0, -1)
        return _select([json.loads(item) for item in raw], room, seq, min(limit, self.limit))


def make_history(message_queue: str | None, name: str, limit: int) -> History:
    return RedisHistory(message_queue, name, limit) if message_queue else MemoryHistory(limit)
