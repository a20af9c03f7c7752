"""Resume, in-process: the history stores (memory, and a real Redis) number each room without holes,
and `subscribe {room, since, epoch}` gives a returning client exactly what it missed, or a resync first."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator

import pytest
from conftest import REPO, require_tool
from server_stack import Supervisor, start_redis

from swarmdeploy.profile import load_profile
from swarmdeploy.server import create_app
from swarmdeploy.server.config import env_from_model
from swarmdeploy.server.history import History, MemoryHistory, RedisHistory
from swarmdeploy.server.resume import REPLAY_MAX, resume

LIMIT = 5
# The rendered environment of a development profile, with a small history; every publish leaves at once.
BASE = {**env_from_model(load_profile(REPO / "profiles" / "dev.yaml").model),
        "SWARMDEPLOY_NAME": "unit", "SWARMDEPLOY_ASYNC_MODE": "threading", "SWARMDEPLOY_HISTORY_LIMIT": str(LIMIT),
        "SWARMDEPLOY_BATCH_MAX_SIZE": "1", "SWARMDEPLOY_CORS_ALLOWED_ORIGINS": ""}
_names = itertools.count()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    require_tool("redis-server")
    supervisor = Supervisor(tmp_path_factory.mktemp("resume-redis"))
    try:
        yield start_redis(supervisor)
    finally:
        supervisor.stop_all()


@pytest.fixture(params=["memory", "redis"])
def make_store(request) -> Callable[..., History]:
    """Factory: a store of the parametrized kind; for Redis, every call opens the same deployment's history
    (as every instance does), unless given another name."""
    if request.param == "memory":
        return lambda limit=LIMIT, name=None: MemoryHistory(limit)
    url, deployment = request.getfixturevalue("redis_url"), f"resume{next(_names)}"  # a throw-away Redis
    return lambda limit=LIMIT, name=deployment: RedisHistory(url, name, limit)


def _publish(store: History, room: str, *data) -> list[dict]:
    return [store.append(room, "tick", value, "test@host:1") for value in data]


def test_each_room_is_numbered_from_1_without_holes(make_store):
    store = make_store()
    assert store.window("a", None, 0, 0).head == 0  # nothing yet: a subscriber starts from 0
    records = _publish(store, "a", 1, 2) + _publish(store, "b", 3) + _publish(store, "a", 4)
    assert [(r["room"], r["seq"]) for r in records] == [("a", 1), ("a", 2), ("b", 1), ("a", 3)]
    assert len({r["epoch"] for r in records}) == 1
    window = store.window("a", None, 0, 10)
    assert (window.epoch, window.head) == (records[0]["epoch"], 3)
    assert window.events == [records[0], records[1], records[3]]  # as sent live, oldest first


def test_window_reads_after_a_position_oldest_first(make_store):
    store = make_store()
    _publish(store, "a", *range(5))
    epoch = store.window("a", None, 0, 0).epoch
    assert [e["seq"] for e in store.window("a", epoch, 3, 10).events] == [4, 5]
    assert [e["seq"] for e in store.window("a", epoch, 1, 2).events] == [2, 3]  # capped: the oldest first
    assert store.window("a", epoch, 5, 10).events == []
    # No position in this numbering (another epoch, or above the head): every retained event.
    assert [e["seq"] for e in store.window("a", epoch + 1, 3, 10).events] == [1, 2, 3, 4, 5]
    assert [e["seq"] for e in store.window("a", epoch, 9, 10).events] == [1, 2, 3, 4, 5]


def test_the_bound_counts_every_room(make_store):
    store = make_store()
    _publish(store, "quiet", "old")
    _publish(store, "busy", *range(LIMIT))
    window = store.window("quiet", None, 0, 10)
    assert (window.head, window.events) == (1, [])  # numbered, then pushed out by the busy room
    assert len(store.window("busy", None, 0, 10).events) == LIMIT


def test_concurrent_publishers_keep_history_in_numbering_order(make_store):
    """Two instances publishing at once: numbering and appending are one step, so history (and each
    batch) is in order, and no number is given twice."""
    store, other = make_store(limit=1000), make_store(limit=1000)
    threads = [threading.Thread(target=_publish, args=(s, "r", *range(50))) for s in (store, other) * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if isinstance(store, RedisHistory):  # one Redis: both stores are the deployment's one history
        assert [e["seq"] for e in store.window("r", None, 0, 1000).events] == list(range(1, 201))
    else:  # two memories: two instances without a queue, each numbering on its own
        assert [e["seq"] for e in store.window("r", None, 0, 1000).events] == list(range(1, 101))


def test_resume_inside_the_bound_replays_exactly_the_missed_events(make_store):
    store = make_store()
    seen = _publish(store, "a", "seen")[-1]
    missed = _publish(store, "a", "x", "y") + _publish(store, "b", "other") + _publish(store, "a", "z")
    answer = resume(store, "a", seen["epoch"], seen["seq"])
    assert answer.resync is None and answer.head == 4
    assert [e["data"] for e in answer.events] == ["x", "y", "z"] == [m["data"] for m in missed if m["room"] == "a"]
    # Up to date: nothing, and no resync.
    assert resume(store, "a", seen["epoch"], 4) == type(answer)(seen["epoch"], 4, [], None)


def test_resume_past_the_bound_is_an_explicit_resync(make_store):
    store = make_store()
    epoch = _publish(store, "a", 1, 2)[0]["epoch"]
    _publish(store, "a", *range(3, 13))  # 12 numbered, the last 5 kept: 8-12
    answer = resume(store, "a", epoch, 2)
    assert answer.resync == {"room": "a", "from": 3, "to": 7, "epoch": epoch}
    assert [e["seq"] for e in answer.events] == [8, 9, 10, 11, 12]
    # Every event gone (history_limit 0 keeps none): the resync reaches the head.
    empty = make_store(limit=0, name="nothing-kept")
    _publish(empty, "a", 1, 2, 3)
    assert resume(empty, "a", epoch_of(empty), 1).resync == {"room": "a", "from": 2, "to": 3, "epoch": epoch_of(empty)}


def epoch_of(store: History) -> int:
    return store.window("any", None, 0, 0).epoch


def test_a_restarted_store_is_a_resync_not_a_repeat(make_store):
    """A page that stayed open while the store restarted (an instance without a queue, or Redis restarted
    empty) holds seq 3 of the old numbering; the new 1 and 2 must not look like events it has seen."""
    old = make_store()
    seen = _publish(old, "a", 1, 2, 3)[-1]
    if isinstance(old, RedisHistory):
        old._redis.delete(*old._keys)  # what a Redis restarted without persistence holds
        new = old
    else:
        new = make_store()
    fresh = _publish(new, "a", "after 1", "after 2")
    assert fresh[0]["seq"] == 1 and fresh[0]["epoch"] > seen["epoch"]
    answer = resume(new, "a", seen["epoch"], seen["seq"])
    assert answer.resync == {"room": "a", "from": 4, "to": 0, "epoch": fresh[0]["epoch"]}
    assert [e["data"] for e in answer.events] == ["after 1", "after 2"]


def test_a_position_above_the_head_is_a_resync(make_store):
    store = make_store()
    record = _publish(store, "a", 1)[0]
    answer = resume(store, "a", record["epoch"], 7)
    assert answer.resync == {"room": "a", "from": 8, "to": 0, "epoch": record["epoch"]}
    assert [e["seq"] for e in answer.events] == [1]


def test_replays_are_capped_and_the_client_asks_again(make_store):
    store = make_store(limit=REPLAY_MAX + 10)
    epoch = _publish(store, "a", *range(REPLAY_MAX + 10))[0]["epoch"]
    first = resume(store, "a", epoch, 0)
    assert first.resync is None and len(first.events) == REPLAY_MAX and first.head == REPLAY_MAX + 10
    second = resume(store, "a", epoch, first.events[-1]["seq"])
    assert [e["seq"] for e in second.events] == list(range(REPLAY_MAX + 1, REPLAY_MAX + 11))


# ---------------------------------------------------------------- over Socket.IO


def _app():
    app = create_app(BASE)
    return app, app.extensions["swarmdeploy"]["socketio"]


def _received(client) -> list[tuple[str, dict]]:
    return [(m["name"], m["args"][0]) for m in client.get_received()]


def test_subscribe_answers_the_position_and_a_resume_replays_before_its_answer():
    app, socketio = _app()
    writer, before = socketio.test_client(app), socketio.test_client(app)
    start = before.emit("subscribe", {"room": "r"}, callback=True)
    assert start["ok"] and start["seq"] == 0 and start["epoch"] > 0  # saw nothing yet: a position all the same
    before.disconnect()
    for n in range(3):
        assert writer.emit("publish", {"room": "r", "data": n}, callback=True)["ok"]

    after = socketio.test_client(app)  # the reconnect: a new connection
    answer = after.emit("subscribe", {"room": "r", "since": 0, "epoch": start["epoch"]}, callback=True)
    assert answer == {"ok": True, "room": "r", "instance": answer["instance"], "epoch": start["epoch"], "seq": 3,
                      "replayed": 3}
    ((name, replay),) = _received(after)
    assert name == "batch" and replay["replay"] is True and [e["data"] for e in replay["events"]] == [0, 1, 2]
    writer.emit("publish", {"room": "r", "data": "live"})  # joined: live events follow
    assert [(n, [e["seq"] for e in b["events"]]) for n, b in _received(after)] == [("batch", [4])]


def test_a_resume_past_the_bound_sends_resync_then_the_rest():
    app, socketio = _app()
    writer, client = socketio.test_client(app), socketio.test_client(app)
    epoch = client.emit("subscribe", {"room": "r"}, callback=True)["epoch"]
    for n in range(9):
        writer.emit("publish", {"room": "r", "data": n})
    client.get_received()
    client.emit("subscribe", {"room": "r", "since": 2, "epoch": epoch}, callback=True)
    received = _received(client)
    assert [name for name, _ in received] == ["resync", "batch"]
    assert received[0][1] == {"room": "r", "from": 3, "to": 4, "epoch": epoch}
    assert [e["seq"] for e in received[1][1]["events"]] == [5, 6, 7, 8, 9]


@pytest.mark.parametrize("position", [{"since": 1}, {"since": -1, "epoch": 5}, {"since": True, "epoch": 5},
                                      {"since": 1, "epoch": "5"}, {"since": 2**53, "epoch": 5}])
def test_a_resume_without_a_valid_position_is_refused(position):
    app, socketio = _app()
    client = socketio.test_client(app)
    answer = client.emit("subscribe", {"room": "r", **position}, callback=True)
    assert answer["ok"] is False and "since" in answer["error"] and "epoch" in answer["error"]
    assert client.emit("subscribe", {"room": "r"}, callback=True)["ok"]  # the connection is fine


def test_history_reads_without_joining():
    app, socketio = _app()
    writer, reader = socketio.test_client(app), socketio.test_client(app)
    for n in range(3):
        writer.emit("publish", {"room": "h", "data": n})
    answer = reader.emit("history", {"room": "h", "since": 1}, callback=True)
    assert answer["seq"] == 3 and [e["data"] for e in answer["events"]] == [1, 2]
    assert reader.emit("history", {"room": "h", "since": -1}, callback=True)["ok"] is False
    writer.emit("publish", {"room": "h", "data": "not joined"})
    assert reader.get_received() == []


def test_a_restarted_instance_starts_a_new_epoch():
    """Without a queue the history lives in the instance: a restart (every deploy) is a new numbering."""
    before = create_app(BASE).extensions["swarmdeploy"]["publisher"].publish("r", "e", 1)
    after = create_app(BASE).extensions["swarmdeploy"]["publisher"].publish("r", "e", 2)
    assert (before["seq"], after["seq"]) == (1, 1) and after["epoch"] > before["epoch"]


def test_a_stopping_instance_sends_its_batch_now_and_every_later_event_at_once():
    """Events wait up to the batch interval before leaving; an instance that exits meanwhile would have numbered
    them (history) without ever sending them live, a hole its clients see only at their next event."""
    app = create_app({**BASE, "SWARMDEPLOY_BATCH_INTERVAL": "60", "SWARMDEPLOY_BATCH_MAX_SIZE": "100"})
    socketio, publisher = (app.extensions["swarmdeploy"][key] for key in ("socketio", "publisher"))
    client = socketio.test_client(app)
    client.emit("subscribe", {"room": "r"}, callback=True)
    publisher.publish("r", "e", "waiting")
    assert client.get_received() == []  # held for the 60 s interval
    publisher.send_at_once()
    publisher.publish("r", "e", "while stopping")
    assert [[e["data"] for e in m["args"][0]["events"]] for m in client.get_received()] == [["waiting"],
                                                                                           ["while stopping"]]
