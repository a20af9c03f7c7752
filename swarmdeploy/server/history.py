"""Bounded event history: the single source of sequence numbers and of what a reconnecting client missed.

Every room numbers its events 1, 2, 3, ... without holes, so a client that sees 7 after 5 knows it lacks 6.
Numbers belong to an *epoch*: the microsecond clock when this store started (an instance without a
queue starting, a Redis that lost its data). A new epoch restarts every room at 1, and a client still
holding the old epoch is told it may have lost events (resume.py) instead of mistaking 1, 2, ... for
events it has already seen.

One store per deployment: in memory for a single instance; in Redis when a message queue is configured,
so a client reconnecting to another instance finds the same events. Both keep at most `limit` events in
total, whatever the number of rooms: memory stays flat. Each room's counter (a few bytes) is kept for
as long as the store lives.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from swarmdeploy.server.queue import connect, reaching_queue

Event = dict[str, Any]

# The store's epoch (KEYS[1]'s '#epoch'), set to `proposed` by whichever script first finds none.
STORE_EPOCH = """
local function store_epoch(proposed)
  local epoch = redis.call('HGET', KEYS[1], '#epoch')
  if not epoch then
    epoch = proposed
    redis.call('HSET', KEYS[1], '#epoch', epoch)
  end
  return epoch
end
"""

# Numbers this room's next event and appends it, in one step: history order is number order even when
# several instances publish at once. The record starts {"seq":N,"epoch":E,"room":"R", (WINDOW reads that).
APPEND = STORE_EPOCH + """
local epoch = store_epoch(ARGV[4])
local seq = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
local limit = tonumber(ARGV[3])
if limit > 0 then
  redis.call('RPUSH', KEYS[2], '{"seq":' .. seq .. ',"epoch":' .. epoch .. ',' .. string.sub(ARGV[2], 2))
  redis.call('LTRIM', KEYS[2], -limit, -1)
end
return {epoch, seq}
"""

# The room's epoch and last number, and its retained events after ARGV[2] (after 0 when that is no
# position in this numbering: another epoch ARGV[3], or above the head), oldest first, at most ARGV[4].
# Reads from the newest end and stops at the first event the caller has, so a client a few seconds
# behind costs a few records, not the whole list.
WINDOW = STORE_EPOCH + """
local epoch = store_epoch(ARGV[5])
local head = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local after = tonumber(ARGV[2])
if (ARGV[3] ~= '' and ARGV[3] ~= epoch) or after > head then after = 0 end
local limit = tonumber(ARGV[4])
local found = {}
local index, chunk, done = -1, 200, limit == 0
while not done do
  local records = redis.call('LRANGE', KEYS[2], index - chunk + 1, index)
  for i = #records, 1, -1 do
    local seq, record_epoch, room = string.match(records[i], '^{"seq":(%d+),"epoch":(%d+),"room":"([^"]*)"')
    if record_epoch ~= epoch then done = true break end
    if room == ARGV[1] then
      if tonumber(seq) <= after then done = true break end
      found[#found + 1] = records[i]
    end
  end
  if #records < chunk then done = true end
  index = index - chunk
end
local answer = {epoch, head}
for i = #found, math.max(1, #found - limit + 1), -1 do answer[#answer + 1] = found[i] end
return answer
"""


def clock_epoch() -> int:
    """Microseconds since the epoch: exact in JavaScript (below 2**53) until the year 2255."""
    return time.time_ns() // 1000


@dataclass(frozen=True)
class Window:
    """A room as the store holds it: its epoch, its last number (0: no event yet) and retained events."""

    epoch: int
    head: int
    events: list[Event]


class History(Protocol):
    def append(self, room: str, event: str, data: Any, origin: str) -> Event:
        """Number the event in its room, keep it, and return the record sent to clients."""
        ...

    def window(self, room: str, epoch: int | None, after: int, limit: int) -> Window:
        """The room's retained events numbered above `after`, oldest first, at most `limit`; every retained
        one when `after` is no position in the store's numbering: another `epoch` (None: the store's),
        or above the room's last number."""
        ...


def _newer_than(records_newest_first: Iterable[Event], room: str, after: int) -> list[Event]:
    """The room's records numbered above `after`, oldest first, read from the newest end."""
    found = []
    for record in records_newest_first:
        if record["room"] == room:
            if record["seq"] <= after:
                break
            found.append(record)
    found.reverse()
    return found


class MemoryHistory:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.epoch = clock_epoch()
        self._events: deque[Event] = deque(maxlen=limit or 1)
        self._counters: defaultdict[str, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._heads: dict[str, int] = {}
        self._lock = threading.Lock()  # gevent-patched under the gevent worker

    def append(self, room: str, event: str, data: Any, origin: str) -> Event:
        with self._lock:
            seq = self._heads[room] = next(self._counters[room])
            record: Event = {"seq": seq, "epoch": self.epoch, "room": room, "event": event, "data": data,
                             "time": time.time(), "origin": origin}
            if self.limit:
                self._events.append(record)
        return record

    def window(self, room: str, epoch: int | None, after: int, limit: int) -> Window:
        with self._lock:
            head, records = self._heads.get(room, 0), list(self._events)
        start = after if epoch in (None, self.epoch) and after <= head else 0
        return Window(self.epoch, head, _newer_than(reversed(records), room, start)[:limit] if limit else [])

    def __len__(self) -> int:
        return len(self._events) if self.limit else 0


class RedisHistory:
    """Shared by every instance on the queue: a hash of room counters (and the epoch) and one capped list.

    Every method raises QueueUnreachable while Redis is down, so a publisher is refused rather than an
    event being numbered nowhere.
    """

    def __init__(self, url: str, name: str, limit: int) -> None:
        self.limit = limit
        self._redis = connect(url)
        # Scripts are reloaded by redis-py after a Redis restart (NOSCRIPT).
        self._append = self._redis.register_script(APPEND)
        self._window = self._redis.register_script(WINDOW)
        self._keys = [f"swarmdeploy:{name}:rooms", f"swarmdeploy:{name}:events"]

    def append(self, room: str, event: str, data: Any, origin: str) -> Event:
        now = time.time()
        body = json.dumps({"room": room, "event": event, "data": data, "time": now, "origin": origin},
                          separators=(",", ":"))
        with reaching_queue():
            epoch, seq = self._append(keys=self._keys, args=[room, body, self.limit, clock_epoch()])
        return {"seq": int(seq), "epoch": int(epoch), "room": room, "event": event, "data": data, "time": now,
                "origin": origin}

    def window(self, room: str, epoch: int | None, after: int, limit: int) -> Window:
        with reaching_queue():
            epoch_now, head, *records = self._window(
                keys=self._keys, args=[room, after, "" if epoch is None else epoch, limit, clock_epoch()])
        return Window(int(epoch_now), int(head), [json.loads(record) for record in records])


def make_history(message_queue: str | None, name: str, limit: int) -> History:
    return RedisHistory(message_queue, name, limit) if message_queue else MemoryHistory(limit)
