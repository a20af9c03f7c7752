"""Several instances: the Redis message queue carries broadcasts between them; without it they are lost."""

from __future__ import annotations

import time

import pytest
from server_stack import http_json, start_instances, start_redis, write_profile

from conftest import require_tool

pytestmark = pytest.mark.integration

ROOM = "news"
QUIET = 2.0  # seconds a lost message is waited for: 20x the batching interval


@pytest.fixture
def redis_url(supervisor):
    require_tool("redis-server")
    require_tool("gunicorn")
    return start_redis(supervisor)


def test_publish_on_one_instance_reaches_clients_of_the_other(supervisor, connect, tmp_path, redis_url):
    profile = write_profile(tmp_path, instances=2, message_queue=redis_url,
                            server={"publish_token_env": "PUBLISH_TOKEN"})
    first, second = start_instances(supervisor, profile, extra_env={"PUBLISH_TOKEN": "pt"}).instances
    publisher = connect(first.url, ["websocket"])
    listener = connect(second.url, ["polling"])
    assert listener.call("subscribe", {"room": ROOM})["instance"].endswith(f":{second.port}")

    answer = publisher.call("publish", {"room": ROOM, "event": "update", "data": {"cpu": 42}, "token": "pt"})
    assert answer["ok"]
    (batch,) = listener.batch_events(1, timeout=10)
    (event,) = batch["events"]
    assert event["data"] == {"cpu": 42} and event["event"] == "update" and event["origin"].endswith(f":{first.port}")

    # The other way round, over HTTP: POST to instance 1 reaches a client of instance 0.
    assert publisher.call("subscribe", {"room": ROOM})["ok"]
    posted = http_json(f"{second.url}/api/publish", headers={"Authorization": "Bearer pt"},
                       data={"room": ROOM, "data": "via http"})
    received = [e for b in publisher.batch_events(1, timeout=10) for e in b["events"]]
    assert [e["data"] for e in received] == ["via http"] and received[0]["seq"] == posted["seq"]

    # History lives in Redis: a client reconnecting to either instance can replay both events.
    replay = publisher.call("history", {"room": ROOM, "since": 0})["events"]
    assert [e["data"] for e in replay] == [{"cpu": 42}, "via http"]
    assert [e["seq"] for e in replay] == [event["seq"], posted["seq"]]


def test_without_the_queue_the_other_instance_never_sees_it(supervisor, connect, tmp_path, redis_url):
    profile = write_profile(tmp_path, instances=2, message_queue=redis_url)
    # The same units with the queue taken out of the environment file.
    first, second = start_instances(supervisor, profile, extra_env={"SWARMDEPLOY_MESSAGE_QUEUE": ""}).instances
    assert first.health()["queue"] is None
    local = connect(first.url, ["websocket"])
    remote = connect(second.url, ["websocket"])
    for client in (local, remote):
        assert client.call("subscribe", {"room": ROOM})["ok"]
    assert local.call("publish", {"room": ROOM, "data": "only here"})["ok"]
    assert [e["data"] for b in local.batch_events(1, timeout=10) for e in b["events"]] == ["only here"]
    started = time.monotonic()
    assert remote.batch_events(1, timeout=QUIET) == []  # lost: nothing carried it across
    assert time.monotonic() - started >= QUIET - 0.1


def test_a_socket_publish_with_a_wrong_token_is_refused(supervisor, connect, tmp_path, redis_url):
    profile = write_profile(tmp_path, instances=2, message_queue=redis_url,
                            server={"publish_token_env": "PUBLISH_TOKEN"})
    first, second = start_instances(supervisor, profile, extra_env={"PUBLISH_TOKEN": "pt"}).instances
    publisher = connect(first.url, ["websocket"])
    listeners = [connect(instance.url, ["websocket"]) for instance in (first, second)]
    for listener in listeners:
        assert listener.call("subscribe", {"room": ROOM})["ok"]

    for token in ("wrong", "PT", "pt ", 42):
        answer = publisher.call("publish", {"room": ROOM, "data": "forged", "token": token})
        assert answer == {"ok": False, "error": "publishing needs the publish token"}, token
    assert publisher.call("history", {"room": ROOM, "since": 0})["events"] == []
    # The right token afterwards: its event is the first and only one either instance delivers, so
    # nothing forged was batched or queued before it.
    assert publisher.call("publish", {"room": ROOM, "data": "genuine", "token": "pt"})["ok"]
    for listener in listeners:
        assert [e["data"] for b in listener.batch_events(1, timeout=10) for e in b["events"]] == ["genuine"]
