"""A message published in one place must reach clients everywhere else: across the instances of
this host, and across the hosts behind a balancer (the message queue carries it)."""

from __future__ import annotations

import asyncio
import secrets

import websockets

from swarmdeploy.redact import redact_url
from swarmdeploy.verify.engineio import EngineIOError, SocketIOWebSocket
from swarmdeploy.verify.fleet import Entry, crosses_hosts, host_entries, instance_entries
from swarmdeploy.verify.result import Observation, Status
from swarmdeploy.verify.target import Target


async def _connect(entry: Entry) -> SocketIOWebSocket | None:
    client = SocketIOWebSocket(entry.target)
    try:
        await client.connect(entry.target.auth)
        return client
    except (OSError, TimeoutError, EngineIOError, websockets.WebSocketException):
        await client.close()  # an unreachable entry is the host (or hosts) check's finding
        return None


async def _broadcast(target: Target, entries: list[Entry], across: str) -> list[Observation]:
    clients = await asyncio.gather(*(_connect(entry) for entry in entries))
    reachable = [(e, c) for e, c in zip(entries, clients, strict=True) if c is not None]
    try:
        if len(reachable) < 2:
            check = "hosts" if across == "hosts" else "host"
            return [Observation(across, Status.SKIP, f"{len(reachable)} of {len(entries)} {across} reachable directly "
                                                     f"from here; see the {check} check")]
        room, marker = f"verify-{secrets.token_hex(4)}", secrets.token_hex(8)
        for _, client in reachable:
            answer = await client.call("subscribe", {"room": room}, target.timeout)
            if not (isinstance(answer, dict) and answer.get("ok")):
                if "message queue" in str(answer.get("error", "") if isinstance(answer, dict) else ""):
                    return [_queue_down(target, "subscribe", answer["error"])]
                return [Observation("subscribe", Status.FAIL, f"subscribe was refused: {answer}",
                                    "the app must handle the subscribe event (swarmdeploy.server does)")]
        publisher = reachable[0][1]
        answer = await publisher.call("publish", {"room": room, "event": "verify", "data": marker,
                                                  "token": target.publish_token}, target.timeout)
        if not (isinstance(answer, dict) and answer.get("ok")):
            return [_refused(target, answer)]
        wait = target.expect("socketio.batching.interval", 0.1) + target.timeout
        missed = []
        for entry, client in reachable:
            try:
                while True:
                    batch = await client.wait_event("batch", wait)
                    if any(e.get("data") == marker for e in batch.get("events", [])):
                        break
            except TimeoutError:
                missed.append(entry.label)
    finally:
        await asyncio.gather(*(c.close() for c in clients if c is not None))
    origin = reachable[0][0].label
    if missed:
        return [Observation(f"cross-{across[:-1]}", Status.FAIL, f"published on {origin}; never arrived at "
                                                                f"{', '.join(missed)}",
                            f"the {across} share no message queue: set server.message_queue to one Redis every "
                            f"{across[:-1]} reaches, deploy the environment file and restart the instances")]
    return [Observation(f"cross-{across[:-1]}", Status.PASS,
                        f"published on {origin}; arrived at all {len(reachable)} {across}")]


def _refused(target: Target, answer: object) -> Observation:
    """A publish the server refused: its queue is down (a failure), or verify lacks the token (a skip)."""
    error = answer.get("error", "") if isinstance(answer, dict) else ""
    if "message queue" in error:
        return _queue_down(target, "publish", error)
    return Observation("publish", Status.SKIP, f"publishing was refused: {answer}",
                       "export the token named by server.publish_token_env before running verify")


def _queue_down(target: Target, event: str, error: str) -> Observation:
    """The server answered `event` with its message queue unreachable: name the queue and the fix."""
    url = redact_url(target.expect("server.message_queue") or "")
    return Observation(event, Status.FAIL, f"the server could not {event}: {error} ({url})",
                       f"start the Redis at {url} (server.message_queue) and make sure every instance reaches "
                       "it; broadcasts reach only the publisher's own clients meanwhile")


def run(target: Target) -> list[Observation]:
    if target.model is None:
        return [Observation("instances", Status.SKIP, "needs the profile to know the instances' ports")]
    if crosses_hosts(target):
        return asyncio.run(_broadcast(target, host_entries(target), "hosts"))
    if target.through_balancer:
        listed = len(target.expect("load_balancer.hosts"))
        return [Observation("hosts", Status.SKIP, "one host behind the balancer: nothing to cross" if listed else
                            "list the hosts behind the balancer (load_balancer.hosts) to prove broadcasts cross them")]
    if target.expect("server.instances") < 2:
        return [Observation("instances", Status.SKIP, "one instance: nothing to cross")]
    return asyncio.run(_broadcast(target, instance_entries(target), "instances"))
