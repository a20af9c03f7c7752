"""A message published on one instance must reach clients of every other instance (message queue)."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets

import websockets

from swarmdeploy.verify.engineio import EngineIOError, SocketIOWebSocket
from swarmdeploy.verify.result import Observation, Status
from swarmdeploy.verify.target import Target


def instance_targets(target: Target) -> list[Target]:
    """Each instance's own address: clients connected there are pinned to it by construction."""
    bind = target.expect("server.bind_host")
    return [dataclasses.replace(target, url=f"http://{bind}:{port}") for port in target.expect("server.ports")]


async def _connect(instance: Target) -> SocketIOWebSocket | None:
    client = SocketIOWebSocket(instance)
    try:
        await client.connect(instance.auth)
        return client
    except (OSError, TimeoutError, EngineIOError, websockets.WebSocketException):
        await client.close()  # an unreachable instance is the host check's finding
        return None


async def _broadcast(target: Target) -> list[Observation]:
    instances = instance_targets(target)
    clients = await asyncio.gather(*(_connect(i) for i in instances))
    reachable = [(i, c) for i, c in zip(instances, clients, strict=True) if c is not None]
    try:
        if len(reachable) < 2:
            return [Observation("instances", Status.SKIP,
                                f"{len(reachable)} of {len(instances)} instances reachable directly from here; "
                                "see the host check")]
        room, marker = f"verify-{secrets.token_hex(4)}", secrets.token_hex(8)
        for _, client in reachable:
            answer = await client.call("subscribe", {"room": room}, target.timeout)
            if not (isinstance(answer, dict) and answer.get("ok")):
                return [Observation("subscribe", Status.FAIL, f"subscribe was refused: {answer}",
                                    "the app must handle the subscribe event (swarmdeploy.server does)")]
        publisher = reachable[0][1]
        answer = await publisher.call("publish", {"room": room, "event": "verify", "data": marker,
                                                  "token": target.publish_token}, target.timeout)
        if not (isinstance(answer, dict) and answer.get("ok")):
            return [Observation("publish", Status.SKIP, f"publishing was refused: {answer}",
                                "export the token named by server.publish_token_env before running verify")]
        wait = target.expect("socketio.batching.interval", 0.1) + target.timeout
        missed = []
        for instance, client in reachable:
            try:
                while True:
                    batch = await client.wait_event("batch", wait)
                    if any(e.get("data") == marker for e in batch.get("events", [])):
                        break
            except TimeoutError:
                missed.append(instance.base)
    finally:
        await asyncio.gather(*(c.close() for c in clients if c is not None))
    origin = reachable[0][0].base
    if missed:
        return [Observation("cross-instance", Status.FAIL,
                            f"published on {origin}; never arrived at {', '.join(missed)}",
                            "the instances share no message queue: set server.message_queue to one Redis every "
                            "instance reaches, deploy the environment file and restart the instances")]
    return [Observation("cross-instance", Status.PASS,
                        f"published on {origin}; arrived at all {len(reachable)} instances")]


def run(target: Target) -> list[Observation]:
    if target.model is None:
        return [Observation("instances", Status.SKIP, "needs the profile to know the instances' ports")]
    if target.expect("server.instances") < 2:
        return [Observation("instances", Status.SKIP, "one instance: nothing to cross")]
    return asyncio.run(_broadcast(target))
