"""Every instance on its own loopback port, not only the one the proxy's stickiness picks for verify:
the handshake's ping settings, health, the message queue as the instance sees it, and the version."""

from __future__ import annotations

import json
from typing import Any

import websockets

from swarmdeploy.redact import redact_url
from swarmdeploy.verify.checks.handshake import open_packet, ping_mismatches
from swarmdeploy.verify.engineio import EngineIOError, http_request
from swarmdeploy.verify.fleet import Entry, instance_entries
from swarmdeploy.verify.result import Observation, Status
from swarmdeploy.verify.target import Target


def _restart(target: Target, entry: Entry) -> str:
    port = entry.target.port
    return (f"restart it with the deployed settings: swarmdeploy restart instance-{port} (process manager) or "
            f"systemctl restart {target.expect('name')}@{port}.service")


def _queue_problems(target: Target, health: dict[str, Any]) -> list[str]:
    """The message queue as the instance sees it (its /healthz on loopback says)."""
    if not target.expect("server.message_queue"):
        return []
    url = redact_url(target.expect("server.message_queue"))
    queue = health.get("queue")
    if not queue:
        return [f"it runs without a message queue; the profile says {url}"]
    if queue.get("reachable") is False:
        return [f"its message queue {url} is unreachable ({queue.get('error') or 'no answer'})"]
    return []


def _probe(target: Target, entry: Entry) -> tuple[Observation, dict[str, Any] | None]:
    """The instance's observation and its /healthz (None when it did not answer)."""
    try:
        health = json.loads(http_request(entry.target, "GET", f"{entry.target.base}/healthz").text)
        handshake, _ = open_packet(entry.target)
    except (OSError, ValueError, EngineIOError, websockets.WebSocketException) as error:
        return Observation(entry.label, Status.FAIL, f"no answer: {error}", _restart(target, entry)), None
    problems = ping_mismatches(target, handshake)
    problems += _queue_problems(target, health)
    if problems:
        fix = (f"start the Redis at {redact_url(target.expect('server.message_queue'))} (server.message_queue) and make sure "
               "every instance reaches it; the instances reconnect by themselves"
               if any("unreachable" in p for p in problems) else _restart(target, entry))
        return Observation(entry.label, Status.FAIL, "; ".join(problems), fix), health
    return Observation(entry.label, Status.PASS, f"healthy, {health.get('clients', 0)} clients, pingInterval "
                                                 f"{handshake['pingInterval']} ms, version {health.get('version')}"), health


def run(target: Target) -> list[Observation]:
    if target.model is None or target.through_balancer:
        return [Observation("instances", Status.SKIP, "checked on each host, where the instances' ports are")]
    probes = [(entry, *_probe(target, entry)) for entry in instance_entries(target)]
    answered = [(entry, health) for entry, _, health in probes if health is not None]
    if not answered:
        return [Observation("instances", Status.SKIP, "no instance port is reachable from here: run verify on the "
                                                      "host (a bare verify after deploy, or --host)")]
    observations = [observation for _, observation, _ in probes]
    versions = {health.get("version") for _, health in answered}
    if len(versions) > 1:
        observations.append(Observation("version", Status.FAIL, "instances run different versions: " + ", ".join(
            f"{entry.label} {health.get('version')}" for entry, health in answered),
            "restart every instance so all run the deployed release: swarmdeploy restart (process manager) or "
            f"systemctl restart {target.expect('name')}.target"))
    return observations
