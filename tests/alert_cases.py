"""`promtool test rules` cases for the rendered alerts: for each alert, synthetic series of its failure on
one instance beside a healthy instance (and a near miss), built from the profile's own thresholds, and
the alerts expected at an evaluation before `for:` has passed (none) and after it (the failing instance's).

Expected annotations are the rule's own, with Prometheus's template calls filled in as Prometheus
fills them (the value formatting functions of prometheus/template), so a changed text or value is caught.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from swarmdeploy.monitoring import SCRAPES
from swarmdeploy.server.metrics import ROUND_TRIP_BUCKETS

REFUSALS = {
    "SwarmdeployOriginRefused": "origin",
    "SwarmdeploySessionUnknown": "unknown_sid",
    "SwarmdeployTokenRefused": "auth",
    "SwarmdeployProtocolMismatch": "protocol_version",
    "SwarmdeployUpgradeRefused": "upgrade",
    "SwarmdeployTransportRefused": "transport",
    "SwarmdeployPayloadTooLarge": "payload_too_large",
}
FAILING, HEALTHY, NEAR = "10.9.0.1:8050", "10.9.0.2:8050", "10.9.0.3:8050"


@dataclass
class Case:
    """One alert's test: input series, when the alert has fired, and on which instance with which $value."""

    series: dict[str, str] = field(default_factory=dict)  # series selector -> promtool values notation
    fires_after: int = 0  # scrapes until the alert must be firing
    firing: dict[str, float] = field(default_factory=dict)  # instance -> $value
    keeps_job: bool = False  # the expression keeps the job label (no aggregation)


class Builder:
    """Series for one profile's model: its job, scrape interval, thresholds and (scrape: hosts) host label."""

    def __init__(self, monitoring: dict[str, Any]) -> None:
        self.m = monitoring
        self.seconds = monitoring["scrape_interval"]
        self.extra = ', host="web-a"' if monitoring["scrape"] == "hosts" else ""
        self.length = SCRAPES["long_window"] + SCRAPES["long_for"] + 10

    def selector(self, metric: str, instance: str, **labels: str) -> str:
        more = "".join(f', {key}="{value}"' for key, value in labels.items())
        return f'{metric}{{job="{self.m["job"]}", instance="{instance}"{self.extra}{more}}}'

    def constant(self, value: float) -> str:
        return f"{value!r}x{self.length}"

    def per_second(self, rate: float) -> str:
        """A counter rising at `rate` per second, sampled once a scrape."""
        return f"0+{rate * self.seconds!r}x{self.length}"


def instance_down(b: Builder) -> Case:
    return Case({b.selector("up", FAILING): b.constant(0), b.selector("up", HEALTHY): b.constant(1)},
                SCRAPES["outage_for"] + 1, {FAILING: 0}, keeps_job=True)


def refused(reason: str) -> Callable[[Builder], Case]:
    def case(b: Builder) -> Case:
        limit = b.m["handshake_errors_per_minute"]
        metric = "swarmdeploy_handshake_errors_total"
        series = {
            b.selector(metric, FAILING, reason=reason): b.per_second(2 * limit / 60),
            b.selector(metric, HEALTHY, reason=reason): b.per_second(limit / 2 / 60),
            # Another cause on the healthy instance: each alert reads its own reason only.
            b.selector(metric, HEALTHY, reason="other"): b.per_second(10 * limit / 60),
        }
        return Case(series, SCRAPES["window"] + SCRAPES["sustained_for"] + 2, {FAILING: 2 * limit})

    return case


def stuck_on_polling(b: Builder) -> Case:
    enough = b.m["websocket_share_min_clients"]
    metric = "swarmdeploy_sessions"
    series = {
        b.selector(metric, FAILING, transport="websocket"): b.constant(0),
        b.selector(metric, FAILING, transport="polling"): b.constant(2 * enough),
        b.selector(metric, HEALTHY, transport="websocket"): b.constant(2 * enough),
        b.selector(metric, HEALTHY, transport="polling"): b.constant(0),
        # Too few sessions to judge: one client behind a proxy that blocks WebSocket.
        b.selector(metric, NEAR, transport="websocket"): b.constant(0),
        b.selector(metric, NEAR, transport="polling"): b.constant(enough - 1),
    }
    return Case(series, SCRAPES["sustained_for"] + 2, {FAILING: 0})


def disconnect_storm(b: Builder) -> Case:
    limit, clients = b.m["disconnects_per_client_hour"], 10
    metric = "swarmdeploy_disconnects_total"
    series = {b.selector("swarmdeploy_connected_clients", instance): b.constant(clients)
              for instance in (FAILING, HEALTHY, NEAR)}
    series.update({
        b.selector(metric, FAILING, reason="transport_close"): b.per_second(2 * limit * clients / 3600),
        # Pages closed by their users: as many, but not a storm.
        b.selector(metric, HEALTHY, reason="client_disconnect"): b.per_second(2 * limit * clients / 3600),
        b.selector(metric, NEAR, reason="ping_timeout"): b.per_second(limit / 2 * clients / 3600),
    })
    return Case(series, SCRAPES["long_window"] + SCRAPES["sustained_for"] + 2, {FAILING: 2 * limit})


def queue_unreachable(b: Builder) -> Case:
    metric = "swarmdeploy_message_queue_reachable"
    return Case({b.selector(metric, FAILING): b.constant(0), b.selector(metric, HEALTHY): b.constant(1)},
                SCRAPES["outage_for"] + 1, {FAILING: 0}, keeps_job=True)


def _round_trips(b: Builder, observed: dict[str, float]) -> dict[str, str]:
    """Ten heartbeats a second on each instance, every one in the bucket whose upper bound is given."""
    series = {}
    for instance, upper in observed.items():
        for bound in (*ROUND_TRIP_BUCKETS, "+Inf"):
            rises = bound == "+Inf" or bound >= upper
            series[b.selector("swarmdeploy_ping_round_trip_seconds_bucket", instance, le=str(bound))] = (
                b.per_second(10) if rises else b.constant(0))
    return series


def _p95(upper: float) -> float:
    """histogram_quantile(0.95) when every observation lies in the bucket ending at `upper`."""
    lower = max((bound for bound in ROUND_TRIP_BUCKETS if bound < upper), default=0)
    return lower + (upper - lower) * 0.95


def latency(grade: str) -> Callable[[Builder], Case]:
    # Fair (150-300 ms) on FAILING, Good on HEALTHY, Poor on NEAR: Fair fires on both FAILING and NEAR.
    observed = {FAILING: 0.2, HEALTHY: 0.05, NEAR: 0.5}

    def case(b: Builder) -> Case:
        if grade == "fair":
            firing = {FAILING: _p95(0.2), NEAR: _p95(0.5)}
            return Case(_round_trips(b, observed), SCRAPES["window"] + SCRAPES["long_for"] + 2, firing)
        return Case(_round_trips(b, observed), SCRAPES["window"] + SCRAPES["sustained_for"] + 2, {NEAR: _p95(0.5)})

    return case


def near_capacity(b: Builder) -> Case:
    limit = b.m["capacity_alert_clients"]
    metric = "swarmdeploy_connected_clients"
    return Case({b.selector(metric, FAILING): b.constant(limit + 1), b.selector(metric, HEALTHY): b.constant(limit)},
                SCRAPES["sustained_for"] + 2, {FAILING: limit + 1}, keeps_job=True)


CASES: dict[str, Callable[[Builder], Case]] = {
    "SwarmdeployInstanceDown": instance_down,
    **{alert: refused(reason) for alert, reason in REFUSALS.items()},
    "SwarmdeployClientsStuckOnPolling": stuck_on_polling,
    "SwarmdeployDisconnectStorm": disconnect_storm,
    "SwarmdeployMessageQueueUnreachable": queue_unreachable,
    "SwarmdeployLatencyFair": latency("fair"),
    "SwarmdeployLatencyPoor": latency("poor"),
    "SwarmdeployNearCapacity": near_capacity,
}


# --- Prometheus's template functions (prometheus/template/template.go), for the values these cases give.

def _go_g4(value: float) -> str:
    return f"{value:.4g}"


def humanize_percentage(value: float) -> str:
    return _go_g4(value * 100) + "%"


def humanize_duration(value: float) -> str:
    assert 0.001 <= value < 1, f"{value}: only sub-second durations are formatted here"
    return _go_g4(value * 1000) + "ms"


VALUE_FORMATS: dict[str, Callable[[float], str]] = {
    '{{ printf "%.1f" $value }}': lambda value: f"{value:.1f}",
    '{{ printf "%.0f" $value }}': lambda value: f"{value:.0f}",
    "{{ humanizePercentage $value }}": humanize_percentage,
    "{{ humanizeDuration $value }}": humanize_duration,
}


def fill(text: str, instance: str, value: float) -> str:
    """An annotation as Prometheus renders it for this alert instance."""
    filled = text.replace("{{ $labels.instance }}", instance)
    for call, format_value in VALUE_FORMATS.items():
        if call in filled:
            filled = filled.replace(call, format_value(value))
    assert "{{" not in filled, f"a template call this test does not know: {filled}"
    return filled


def promtool_tests(rules_file: str, rules: list[dict[str, Any]], monitoring: dict[str, Any]) -> dict[str, Any]:
    """The promtool unit-test document for every alert in `rules` (every alert must have a case)."""
    b = Builder(monitoring)
    interval = f"{b.seconds}s"
    tests = []
    for rule in rules:
        case = CASES[rule["alert"]](b)
        expected = []
        for instance, value in case.firing.items():
            labels = {"instance": instance, **rule["labels"]}
            if case.keeps_job:
                labels["job"] = monitoring["job"]
            if b.extra:
                labels["host"] = "web-a"
            expected.append({"exp_labels": labels,
                             "exp_annotations": {k: fill(v, instance, value) for k, v in rule["annotations"].items()}})
        tests.append({
            "name": rule["alert"],
            "interval": interval,
            "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
            "alert_rule_test": [
                {"eval_time": f"{b.seconds}s", "alertname": rule["alert"], "exp_alerts": []},
                {"eval_time": f"{case.fires_after * b.seconds}s", "alertname": rule["alert"], "exp_alerts": expected},
            ],
        })
    return {"rule_files": [rules_file], "evaluation_interval": interval, "tests": tests}
