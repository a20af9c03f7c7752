"""Every verify check in one place, in the order they run, with what each needs to have passed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from swarmdeploy.verify.checks import (broadcast, browser, cors, handshake, host, hosts, idle, instances, latency,
                                       polling, reachability, stickiness, tls, upgrade, websocket)
from swarmdeploy.verify.result import Observation
from swarmdeploy.verify.target import Target


@dataclass(frozen=True)
class Check:
    name: str
    title: str
    run: Callable[[Target], list[Observation]]
    needs: tuple[str, ...] = ()  # checks whose failure makes this one meaningless: it is skipped


CHECKS: dict[str, Check] = {
    check.name: check
    for check in (
        Check("reachability", "DNS and TCP to every public port", reachability.run),
        Check("tls", "TLS handshake, chain, hostname, expiry, protocols, HSTS, redirect", tls.run, ("reachability",)),
        Check("hosts", "every host behind the balancer answers its health check", hosts.run, ("reachability",)),
        Check("handshake", "Engine.IO handshake: open packet, EIO=4, ping settings", handshake.run,
              ("reachability",)),
        Check("instances", "every instance on its own port: ping settings, health, message queue, version",
              instances.run, ("reachability",)),
        Check("websocket", "direct WebSocket: 101 Switching Protocols through every proxy", websocket.run,
              ("reachability",)),
        Check("polling", "polling-only fallback: connect and ping without WebSocket", polling.run, ("reachability",)),
        Check("upgrade", "upgrades offered, and polling upgraded to WebSocket", upgrade.run, ("websocket", "polling")),
        Check("cors", "CORS: the profile's origins accepted, a foreign origin refused", cors.run, ("polling",)),
        Check("stickiness", "a long polling session never meets 'Session ID unknown'", stickiness.run, ("polling",)),
        Check("broadcast", "room messages cross instances (message queue)", broadcast.run, ("reachability",)),
        Check("latency", "ping/pong round trips over WebSocket, and the grade", latency.run, ("websocket",)),
        Check("idle", "an idle connection outlives every proxy timeout (--soak)", idle.run, ("websocket",)),
        Check("host", "host state: instances and nginx listening, nginx -t, deployed files unchanged", host.run),
        Check("browser", "headless Chromium shows the status page over WebSocket (--browser)", browser.run,
              ("reachability",)),
    )
}
