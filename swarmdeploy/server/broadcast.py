"""Publishing to rooms: numbering and history (history.py), then batching into one `batch` message per room.

Events published within `interval` seconds (up to `max_size`) leave as one emit, so a burst of
updates costs one message per client and one message on the Redis queue, not one per event.
The emit goes through Flask-SocketIO, hence through the message queue to every instance.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask_socketio import SocketIO

from swarmdeploy.server.history import Event, History
from swarmdeploy.server.metrics import Metrics


class Publisher:
    def __init__(self, socketio: SocketIO, history: History, metrics: Metrics, instance_id: str,
                 interval: float, max_size: int) -> None:
        self.socketio = socketio
        self.history = history
        self.metrics = metrics
        self.instance_id = instance_id
        self.interval = interval
        self.max_size = max_size
        self._pending: dict[str, list[Event]] = {}
        self._lock = threading.Lock()

    def publish(self, room: str, event: str, data: Any) -> Event:
        # Numbered and kept before it is sent: an event a client misses live is always in history.
        record = self.history.append(room, event, data, self.instance_id)
        self.metrics.published.inc()
        full = opened = None
        with self._lock:
            pending = self._pending.get(room)
            if pending is None:
                pending = opened = self._pending[room] = []
            pending.append(record)
            if len(pending) >= self.max_size:
                full = self._pending.pop(room)
        if opened is not None and full is None:
            # The batch's clock starts with its first event: it leaves `interval` seconds later
            # unless it fills up first.
            self.socketio.start_background_task(self._flush_later, room, opened)
        if full:
            self._emit(room, full)
        return record

    def send_at_once(self) -> None:
        """The instance is stopping: every event from now on leaves as it is published, and what waits leaves
        now. A batch still waiting when the process exits would be in history but never sent live, and clients
        would only see the hole at their next event."""
        self.max_size = 1
        self.flush()

    def flush(self) -> None:
        """Send every pending batch now (tests, shutdown)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for room, events in pending.items():
            self._emit(room, events)

    def _flush_later(self, room: str, batch: list[Event]) -> None:
        self.socketio.sleep(self.interval)
        with self._lock:
            # Already sent when it filled up, or by flush(): then a newer batch may be pending.
            if self._pending.get(room) is not batch:
                return
            del self._pending[room]
        try:
            self._emit(room, batch)
        except Exception:  # noqa: BLE001 - a failed emit (queue down) is logged, not raised into a task
            logging.getLogger(__name__).exception("sending a batch to room %s failed", room)

    def _emit(self, room: str, events: list[Event]) -> None:
        # Concurrent publishers may append out of numbering order; clients would wait for the gap to close.
        events.sort(key=lambda record: (record["epoch"], record["seq"]))
        self.metrics.batch_size.observe(len(events))
        self.metrics.emitted.labels("batch").inc()
        self.socketio.emit("batch", {"room": room, "events": events}, to=room)
