"""The monitoring part of the model: what Prometheus scrapes, when each alert fires, and at which thresholds.

Every window and `for:` of the alerts is a number of scrapes (SCRAPES), so a shorter
`monitoring.scrape_interval` reacts sooner and a rate() window always holds enough samples; at the
default 15 s an instance is down after 1m and a rate is taken over 5m (docs/monitoring.md).
"""

from __future__ import annotations

import math
from typing import Any

SCRAPES = {
    "outage_for": 4,  # instance down, message queue unreachable
    "window": 20,  # rate() windows of refusals and round trips
    "sustained_for": 20,  # refusals, clients stuck on polling, Poor latency, near capacity
    "long_window": 40,  # disconnect storms: long enough to hold several cut-offs at a one-minute timeout
    "long_for": 40,  # Fair latency: a warning that must not page for a short spike
}
# Seconds: the troubleshooting guide's bands (Excellent < 50 ms, Good < 150, Fair < 300, else Poor), as
# verify's latency check grades them; the server's round-trip histogram has these as bucket bounds.
LATENCY_FAIR = 0.15
LATENCY_POOR = 0.3
MAX_SCRAPE_TIMEOUT = 10  # seconds: Prometheus's default, shortened to the interval when that is shorter


def duration(seconds: int) -> str:
    """A Prometheus duration: 1h, 5m, 90s."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _target_groups(scrape: str, server: dict[str, Any], balancer: dict[str, Any]) -> list[dict[str, Any]]:
    """One group per host (labelled with its name) scraped from elsewhere; else this host's own instances."""
    if scrape == "hosts":
        return [{"host": host["name"], "targets": [f"{host['address_literal']}:{port}" for port in server["ports"]]}
                for host in balancer["hosts"]]
    # Instances on every address answer on loopback too; 0.0.0.0 is no address to connect to.
    local = "127.0.0.1" if server["bind"] == "0.0.0.0" else server["bind_host"]
    return [{"host": "", "targets": [f"{local}:{port}" for port in server["ports"]]}]


def client_capacity(server: dict[str, Any]) -> int:
    """Clients one instance holds: a greenlet each up to --worker-connections (gevent); a thread each (threading)."""
    if server["async_mode"] == "gevent":
        return server["worker_connections"]
    return min(server["threads"], server["worker_connections"])


def resolve_monitoring(settings: dict[str, Any], name: str, server: dict[str, Any], socketio: dict[str, Any],
                       balancer: dict[str, Any]) -> dict[str, Any]:
    monitoring = dict(settings)
    interval = monitoring["scrape_interval"]
    monitoring.update({key: duration(count * interval) for key, count in SCRAPES.items()})
    monitoring["interval"] = duration(interval)
    monitoring["scrape_timeout"] = duration(min(interval, MAX_SCRAPE_TIMEOUT))
    monitoring["job"] = f"swarmdeploy-{name}"
    monitoring["rules_file"] = f"{name}.rules.yml"
    monitoring["target_groups"] = _target_groups(monitoring["scrape"], server, balancer)
    capacity = client_capacity(server)
    monitoring["client_capacity"] = capacity
    monitoring["capacity_alert_clients"] = math.floor(capacity * monitoring["capacity_ratio"])
    # Only where clients can be stuck on polling: both transports offered and upgrades allowed.
    monitoring["websocket_share_alert"] = set(socketio["transports"]) == {"websocket", "polling"} and bool(
        socketio["allow_upgrades"])
    monitoring["queue_alert"] = bool(server["message_queue"])
    monitoring["latency_fair"], monitoring["latency_fair_ms"] = LATENCY_FAIR, round(LATENCY_FAIR * 1000)
    monitoring["latency_poor"], monitoring["latency_poor_ms"] = LATENCY_POOR, round(LATENCY_POOR * 1000)
    return monitoring
