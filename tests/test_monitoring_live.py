"""The monitoring target against a running stack, read by a real Prometheus (Debian's package, on loopback,
scraping and evaluating every second): every target is up; a killed instance fires the instance-down alert;
the instance behind an nginx that drops the Upgrade headers fires the WebSocket-share alert while an instance
whose clients upgraded stays silent. Every metric the rendered rules and dashboard read exists in a live
instance's /metrics, and no label of those metrics grows with the clients."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import require_tool
from prometheus_client.parser import text_string_to_metric_families
from server_stack import (
    START_TIMEOUT,
    Client,
    Instance,
    Stack,
    Supervisor,
    free_ports,
    http_json,
    http_text,
    start_instances,
    start_nginx,
    start_redis,
    wait_until,
    write_profile,
)

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("monitoring-live")]

NAME = "monitortest"
MIN_CLIENTS = 3  # monitoring.websocket_share_min_clients: both the stuck and the upgraded instance are judged
CLIENTS = MIN_CLIENTS + 1  # on each of those two instances
ALERT_TIMEOUT = 60.0  # seconds; the polling alert needs its `for:` of 20 scrapes
# A metric name before a selector: every expression the monitoring target renders filters on the job.
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{")


@dataclass
class Live:
    supervisor: Supervisor
    stack: Stack
    files: dict[str, str]  # the rendered monitoring target
    prometheus: str  # Prometheus's base URL
    stuck: Instance  # holds the clients that came through the nginx without Upgrade: all on polling
    upgraded: Instance  # holds clients connected directly, all upgraded to WebSocket
    spare: Instance  # holds no client: the one the alert test kills
    clients: list[Client]


def _profile(directory: Path, redis_url: str) -> Path:
    profile = write_profile(directory, instances=3, message_queue=redis_url, name=NAME)
    data = yaml.safe_load(profile.read_text())
    data["monitoring"] = {"scrape_interval": 1, "websocket_share_min_clients": MIN_CLIENTS}
    profile.write_text(yaml.safe_dump(data, sort_keys=False))
    return profile


def _drop_upgrade_headers(site: str) -> str:
    kept = [line for line in site.splitlines() if not re.search(r"proxy_set_header (Upgrade|Connection) ", line)]
    assert len(kept) == len(site.splitlines()) - 2, "the rendered site no longer sets Upgrade and Connection"
    return "\n".join(kept) + "\n"


def _start_prometheus(supervisor: Supervisor, directory: Path, files: dict[str, str]) -> str:
    program = require_tool("prometheus")
    directory.mkdir()
    for relative, text in files.items():
        (directory / Path(relative).name).write_text(text)  # rule_files are relative to prometheus.yml
    port = free_ports(1)
    process = supervisor.start([program, f"--config.file={directory / 'prometheus.yml'}",
                                f"--storage.tsdb.path={directory / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                                "--log.level=warn"], label="prometheus")
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: "Ready" in http_text(f"{url}/-/ready", timeout=1), START_TIMEOUT, "prometheus", process,
               lambda: supervisor.log("prometheus"))
    return url


def _samples(instance: Instance) -> list[Any]:
    return [sample for family in text_string_to_metric_families(http_text(f"{instance.url}/metrics"))
            for sample in family.samples]


def _sessions(instance: Instance) -> dict[str, float]:
    return {s.labels["transport"]: s.value for s in _samples(instance) if s.name == "swarmdeploy_sessions"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    for tool in ("nginx", "redis-server", "prometheus"):
        require_tool(tool)
    directory = tmp_path_factory.mktemp("monitoring-live")
    supervisor = Supervisor(directory)
    clients: list[Client] = []
    try:
        stack = start_instances(supervisor, _profile(directory, start_redis(supervisor)))
        start_nginx(supervisor, directory / "nginx", stack.files, NAME, _drop_upgrade_headers)
        site = f"http://localhost:{stack.model['site']['http_port']}"
        clients += [Client(site, ["polling", "websocket"]) for _ in range(CLIENTS)]
        # ip_hash sends every loopback client to one instance: find it by its sessions.
        (stuck,) = [i for i in stack.instances if _sessions(i)["polling"] == CLIENTS]
        upgraded, spare = [i for i in stack.instances if i is not stuck]
        clients += [Client(upgraded.url, ["polling", "websocket"]) for _ in range(CLIENTS)]
        wait_until(lambda: _sessions(upgraded) == {"websocket": CLIENTS, "polling": 0}, START_TIMEOUT,
                   "clients upgraded on the direct instance")
        assert _sessions(stuck) == {"websocket": 0, "polling": CLIENTS}, "an upgrade got through the broken nginx"
        files = {path: text for path, text in stack.files.items() if path.startswith("monitoring/")}
        prometheus = _start_prometheus(supervisor, directory / "prometheus", files)
        yield Live(supervisor, stack, files, prometheus, stuck, upgraded, spare, clients)
    finally:
        for client in clients:
            client.close()
        supervisor.stop_all()


def _expressions(files: dict[str, str]) -> list[str]:
    """Every PromQL expression of the rendered rules and dashboard (panel queries and template variables)."""
    (rules_path,) = [path for path in files if path.endswith(".rules.yml")]
    rules = [rule["expr"] for group in yaml.safe_load(files[rules_path])["groups"] for rule in group["rules"]]

    def queries(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "definition") and isinstance(value, str):
                    yield value
                else:
                    yield from queries(value)
        elif isinstance(node, list):
            for item in node:
                yield from queries(item)

    return rules + list(queries(json.loads(files["monitoring/grafana-dashboard.json"])))


def test_every_metric_the_rules_and_dashboard_read_is_in_a_live_instances_metrics(live: Live) -> None:
    expressions = _expressions(live.files)
    assert len(expressions) > 10, expressions
    named = set()
    for expression in expressions:
        names = set(SELECTOR.findall(expression))
        assert names, f"no metric found in {expression!r}: the scan below would miss it"
        named |= names
    exposed = {sample.name for sample in _samples(live.stuck)}
    # `up` is Prometheus's own, one per target; the alert test reads it from Prometheus.
    assert named - {"up"} <= exposed, f"read by the rules or dashboard, absent from /metrics: {named - exposed}"
    assert "up" in named


def test_the_nginx_without_upgrade_headers_shows_as_upgrade_refusals(live: Live) -> None:
    """Each client behind it tried one upgrade, which arrived without Upgrade: the reason UpgradeRefused reads."""
    def refusals(instance: Instance) -> dict[str, float]:
        return {s.labels["reason"]: s.value for s in _samples(instance) if s.name == "swarmdeploy_handshake_errors_total"}

    stuck, upgraded = refusals(live.stuck), refusals(live.upgraded)
    assert stuck["upgrade"] == CLIENTS and sum(stuck.values()) == CLIENTS, stuck
    assert sum(upgraded.values()) == 0, upgraded


def _series(instance: Instance) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    return {(s.name, frozenset(s.labels.items())) for s in _samples(instance) if s.name.startswith("swarmdeploy_")}


def test_metric_labels_stay_bounded_as_clients_come_and_go(live: Live) -> None:
    before = _series(live.upgraded)
    extra = [Client(live.upgraded.url, ["polling", "websocket"]) for _ in range(3)]
    try:
        during = _series(live.upgraded)
        sids = {sid for client in [*live.clients, *extra] for sid in (client.sio.sid, client.sio.eio.sid)}
    finally:
        for client in extra:
            client.close()
    wait_until(lambda: _sessions(live.upgraded)["websocket"] == CLIENTS, START_TIMEOUT, "extra clients gone")
    after = _series(live.upgraded)
    assert before == during == after, f"series that came with clients: {(during | after) - before}"
    values = {value for _, labels in after for _, value in labels}
    assert all(sid and sid not in value for sid in sids for value in values), values
    assert not [value for value in values if "127.0.0.1" in value or re.search(r":\d+$", value)], values


def _alerts(prometheus: str, name: str) -> dict[str, str]:
    """instance -> state (pending or firing) of alert `name`."""
    alerts = http_json(f"{prometheus}/api/v1/alerts")["data"]["alerts"]
    return {a["labels"]["instance"]: a["state"] for a in alerts if a["labels"]["alertname"] == name}


def _summaries(prometheus: str, name: str) -> dict[str, str]:
    alerts = http_json(f"{prometheus}/api/v1/alerts")["data"]["alerts"]
    return {a["labels"]["instance"]: a["annotations"]["summary"] for a in alerts if a["labels"]["alertname"] == name}


def test_prometheus_scrapes_every_instance_and_fires_the_down_and_polling_alerts(live: Live) -> None:
    job = live.stack.model["monitoring"]["job"]
    expected = {f"127.0.0.1:{instance.port}" for instance in live.stack.instances}

    def all_up() -> bool:
        targets = http_json(f"{live.prometheus}/api/v1/targets")["data"]["activeTargets"]
        ours = {t["labels"]["instance"]: t["health"] for t in targets if t["labels"]["job"] == job}
        assert set(ours) == expected, ours
        return all(health == "up" for health in ours.values())

    wait_until(all_up, START_TIMEOUT, "every instance scraped")
    assert _alerts(live.prometheus, "SwarmdeployInstanceDown") == {}
    live.supervisor.stop(live.spare.process)
    spare, stuck = f"127.0.0.1:{live.spare.port}", f"127.0.0.1:{live.stuck.port}"
    wait_until(lambda: _alerts(live.prometheus, "SwarmdeployInstanceDown") == {spare: "firing"}
               and _alerts(live.prometheus, "SwarmdeployClientsStuckOnPolling").get(stuck) == "firing",
               ALERT_TIMEOUT, "instance-down and polling alerts firing")
    # The upgraded instance has as many clients, all on WebSocket: never even pending.
    assert _alerts(live.prometheus, "SwarmdeployClientsStuckOnPolling") == {stuck: "firing"}
    assert _summaries(live.prometheus, "SwarmdeployClientsStuckOnPolling")[stuck] == (
        f"Only 0% of the clients on {stuck} use WebSocket.")
    assert _summaries(live.prometheus, "SwarmdeployInstanceDown")[spare] == f"Instance {spare} of {NAME} is down."
