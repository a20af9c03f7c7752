"""Real python-socketio clients for the multi-host test, run inside the test network's client host.

Each mode prints one JSON line. A client can be pinned to a host the way a browser is after its
first visit: by sending the balancer's stickiness cookie (`--pin NAME`).

    polling URL --ca CA [--pings N]                    a polling-only session: which instance answered each ping
    publish URL --ca CA --cookie C --from A --to B     a publish on host A reaches a subscriber on host B
    failover URL --ca CA --cookie C --pin A            connected to A; after A goes down, how long until served again
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import time
from typing import Any

import requests
import socketio

TIMEOUT = 10.0


def _client(args: argparse.Namespace, pin: str | None = None, **options: Any) -> tuple[socketio.Client, queue.Queue]:
    session = requests.Session()
    session.verify = args.ca  # python-engineio hands a CA path on to its WebSocket transport too
    if pin:
        session.cookies.set(args.cookie, pin)
    client = socketio.Client(http_session=session, **options)
    events: queue.Queue = queue.Queue()
    client.on("pong", lambda data: events.put(("pong", data)))
    client.on("batch", lambda data: events.put(("batch", data)))
    return client, events


def _wait(events: queue.Queue, name: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kind, data = events.get(timeout=max(0.01, deadline - time.monotonic()))
        if kind == name:
            return data
    raise TimeoutError(name)


def _host(instance: str) -> str:
    """The host part of an instance id, name@host:port."""
    return instance.split("@", 1)[1].rsplit(":", 1)[0]


def polling(args: argparse.Namespace) -> dict[str, Any]:
    client, events = _client(args)
    client.connect(args.url, transports=["polling"], wait_timeout=TIMEOUT)
    instances = []
    for number in range(args.pings):
        client.emit("ping", {"n": number})
        instances.append(_wait(events, "pong")["instance"])
    cookies = client.eio.http.cookies.get_dict()
    client.disconnect()
    return {"instances": instances, "cookies": cookies}


def publish(args: argparse.Namespace) -> dict[str, Any]:
    subscriber, received = _client(args, pin=args.to)
    publisher, answers = _client(args, pin=getattr(args, "from"))
    subscriber.connect(args.url, transports=["websocket"], wait_timeout=TIMEOUT)
    publisher.connect(args.url, transports=["websocket"], wait_timeout=TIMEOUT)
    try:
        room, marker = "multi-host", f"marker-{time.time_ns()}"
        subscriber.call("subscribe", {"room": room}, timeout=TIMEOUT)
        subscriber.emit("ping", {})
        publisher.emit("ping", {})
        subscriber_host, publisher_host = _host(_wait(received, "pong")["instance"]), _host(_wait(answers, "pong")["instance"])
        answer = publisher.call("publish", {"room": room, "event": "note", "data": marker}, timeout=TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        arrived = False
        while not arrived and time.monotonic() < deadline:
            batch = _wait(received, "batch", deadline - time.monotonic())
            arrived = any(event.get("data") == marker for event in batch["events"])
        return {"publisher_host": publisher_host, "subscriber_host": subscriber_host, "publish": answer,
                "arrived": arrived}
    finally:
        subscriber.disconnect()
        publisher.disconnect()


def failover(args: argparse.Namespace) -> dict[str, Any]:
    client, events = _client(args, pin=args.pin, reconnection=True, reconnection_delay=0.2,
                             reconnection_delay_max=1, randomization_factor=0)
    lost: list[float] = []
    client.on("disconnect", lambda *_: lost.append(time.monotonic()))
    client.connect(args.url, transports=["websocket"], wait_timeout=TIMEOUT)
    client.emit("ping", {})
    before = _host(_wait(events, "pong")["instance"])
    print(json.dumps({"ready": before}), flush=True)
    deadline = time.monotonic() + args.wait
    while not lost and time.monotonic() < deadline:
        time.sleep(0.05)
    if not lost:
        return {"before": before, "error": "never disconnected"}
    # Served again: a pong answered after the reconnect (pings sent while down go nowhere).
    while time.monotonic() < deadline:
        if client.connected:
            client.emit("ping", {})
            try:
                after = _host(_wait(events, "pong", 1.0)["instance"])
                served = time.monotonic()
                client.disconnect()
                return {"before": before, "after": after, "seconds": round(served - lost[0], 3)}
            except (TimeoutError, queue.Empty):
                pass
        time.sleep(0.05)
    client.disconnect()
    return {"before": before, "error": "not served again"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["polling", "publish", "failover"])
    parser.add_argument("url")
    parser.add_argument("--ca", required=True)
    parser.add_argument("--cookie", default="SWARMSRV")
    parser.add_argument("--pings", type=int, default=8)
    parser.add_argument("--from")
    parser.add_argument("--to")
    parser.add_argument("--pin")
    parser.add_argument("--wait", type=float, default=60.0)
    args = parser.parse_args()
    result = {"polling": polling, "publish": publish, "failover": failover}[args.mode](args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
