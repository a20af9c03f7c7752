"""What a client that comes back with a position (room, epoch, seq) gets: the events it missed, in order,
and a `resync` first whenever history cannot cover the whole gap. Never a silent hole.

The protocol (docs/resume.md): `subscribe {room}` answers the room's current `epoch` and `seq`; the
client keeps the last seq it delivered. After a reconnect, or when it sees a gap, it sends
`subscribe {room, since: seq, epoch}` and receives, before the answer, `resync {room, from, to, epoch}`
when events from `from` to `to` are gone, then the missed events as a `batch` with `replay: true`
(at most REPLAY_MAX; a client still behind the answer's `seq` asks again from where it is).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from swarmdeploy.server.history import Event, History

REPLAY_MAX = 1000  # most events one answer replays


@dataclass(frozen=True)
class Resume:
    epoch: int
    head: int
    events: list[Event]
    resync: dict[str, Any] | None  # {room, from, to, epoch}: what the client will never receive


def resume(history: History, room: str, epoch: int, since: int) -> Resume:
    window = history.window(room, epoch, since, REPLAY_MAX)
    first = window.events[0]["seq"] if window.events else window.head + 1
    if epoch == window.epoch and since <= window.head and first == since + 1:
        return Resume(window.epoch, window.head, window.events, None)
    # Trimmed past the bound, or another numbering (the store restarted: the old epoch's last events
    # may be lost). `from` counts in the client's numbering and `to` in the store's, so after a new
    # epoch `from` may exceed `to`; the client continues from `to` in `epoch`.
    gone = {"room": room, "from": since + 1, "to": first - 1, "epoch": window.epoch}
    return Resume(window.epoch, window.head, window.events, gone)
