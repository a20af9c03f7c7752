"""The deployment's instances, when they run on this machine: their worker processes, found through each
instance's loopback /healthz (which names its pid), for memory per connection and server CPU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from swarmdeploy.bench.procfs import command_line, cpu_seconds, rss_kib
from swarmdeploy.deploy.health import instance_health

_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}


@dataclass(frozen=True)
class LocalInstances:
    pids: tuple[int, ...]

    def rss_kib(self) -> int:
        return sum(rss_kib(pid) for pid in self.pids)

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)


def local_instances(model: dict[str, Any] | None) -> LocalInstances | None:
    """Every instance's worker pid, or None unless all answer here with a pid this machine runs (not one of
    another host, or of a container with its own process table)."""
    if model is None:
        return None
    host = _ANY_ADDRESS.get(model["server"]["bind"], model["server"]["bind"])
    pids = []
    for port in model["server"]["ports"]:
        health = instance_health(host, port)
        pid = health.get("pid") if health else None
        if not pid or not any("gunicorn" in part or "swarmdeploy" in part for part in command_line(pid)):
            return None
        pids.append(pid)
    return LocalInstances(tuple(pids))
