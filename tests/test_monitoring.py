"""The monitoring target: promtool reads what it renders, each alert fires on its failure and stays silent on
a healthy instance (`promtool test rules`), and the model decides what is scraped and which alerts exist."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from alert_cases import CASES, promtool_tests
from conftest import EXAMPLE_PROFILES, require_tool

from swarmdeploy.errors import UsageError
from swarmdeploy.profile import load_profile
from swarmdeploy.render import render_files
from swarmdeploy.server.metrics import ROUND_TRIP_BUCKETS
from swarmdeploy.validators import promtool
from swarmdeploy.validators.runner import check_files
from swarmdeploy.verify.result import Status

CORPUS = Path(__file__).resolve().parent / "profiles" / "valid"
HOSTS = CORPUS / "monitoring-hosts.yaml"  # scrape: hosts, every threshold changed, a client token
# The examples, and corpus profiles that change what is rendered: polling only, websocket only, threading.
PROFILES = [*EXAMPLE_PROFILES, HOSTS, *(CORPUS / f"{stem}.yaml" for stem in
                                      ("polling-without-upgrades", "websocket-only-instances", "threading"))]


def _render(profile: Path, **changes: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The monitoring files of the profile, with `section__field=value` changed before it is resolved."""

    def change(data: dict[str, Any]) -> None:
        for dotted, value in changes.items():
            section, field = dotted.split("__")
            data[section][field] = value

    model = load_profile(profile, adjust=change).model
    return model, render_files(model, ["monitoring"])


def _rules(files: dict[str, str]) -> list[dict[str, Any]]:
    (name,) = [path for path in files if path.endswith(".rules.yml")]
    return yaml.safe_load(files[name])["groups"][0]["rules"]


def _write(files: dict[str, str], directory: Path) -> Path:
    for relative, text in files.items():
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (directory / relative).write_text(text)
    return directory / "monitoring"


@pytest.mark.integration
@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.stem)
def test_promtool_reads_the_config_and_rules(profile: Path) -> None:
    require_tool("promtool")
    model, files = _render(profile)
    report = check_files(model, files, only=[promtool.CHECK_CONFIG, promtool.CHECK_RULES])
    assert [(r.validator, r.status) for r in report.results] == [
        ("promtool check config", Status.PASS), ("promtool check rules", Status.PASS)], report


@pytest.mark.integration
@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.stem)
def test_each_alert_fires_on_its_failure_and_not_on_a_healthy_instance(profile: Path, tmp_path: Path) -> None:
    """One promtool test per rendered alert, with the profile's thresholds and scrape interval."""
    program = require_tool("promtool")
    model, files = _render(profile)
    rules = _rules(files)
    assert {rule["alert"] for rule in rules} <= set(CASES), "an alert without a promtool case in alert_cases.py"
    directory = _write(files, tmp_path)
    tests = promtool_tests(model["monitoring"]["rules_file"], rules, model["monitoring"])
    (directory / "alerts.test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run([program, "test", "rules", "alerts.test.yml"], cwd=directory, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == 1, result.stdout


@pytest.mark.integration
def test_a_broken_rule_fails_with_promtools_words(tmp_path: Path) -> None:
    require_tool("promtool")
    model, files = _render(EXAMPLE_PROFILES[0])
    (rules_path,) = [path for path in files if path.endswith(".rules.yml")]
    files[rules_path] = files[rules_path].replace("up{job=", "up{{job=", 1)
    report = check_files(model, files, only=[promtool.CHECK_CONFIG, promtool.CHECK_RULES])
    assert [r.status for r in report.results] == [Status.FAIL, Status.FAIL], report
    for result in report.results:
        assert "parse error" in result.detail and rules_path in result.detail, result.detail
        assert "swarmdeploy-check-" not in result.detail


def test_alerts_exist_only_where_their_failure_can_happen() -> None:
    def alerts(profile: Path) -> set[str]:
        return {rule["alert"] for rule in _rules(_render(profile)[1])}

    prod = alerts(Path("profiles/prod.yaml").resolve())
    dev = alerts(Path("profiles/dev.yaml").resolve())
    assert "SwarmdeployMessageQueueUnreachable" in prod and "SwarmdeployMessageQueueUnreachable" not in dev
    assert "SwarmdeployTokenRefused" not in prod and "SwarmdeployTokenRefused" in alerts(HOSTS)
    assert "SwarmdeployClientsStuckOnPolling" in prod
    for stem in ("polling-without-upgrades", "websocket-only-instances"):  # no client can be stuck on polling
        assert "SwarmdeployClientsStuckOnPolling" not in alerts(CORPUS / f"{stem}.yaml"), stem
    _, no_upgrades = _render(Path("profiles/dev.yaml").resolve(), socketio__allow_upgrades=False)
    assert "SwarmdeployClientsStuckOnPolling" not in {rule["alert"] for rule in _rules(no_upgrades)}


# The page's socket.io-client is the fix there: no profile field chooses it.
FIX_OUTSIDE_THE_PROFILE = {"SwarmdeployProtocolMismatch"}


def test_every_alert_has_severity_for_and_annotations_naming_a_profile_field() -> None:
    fields = re.compile(r"\b(server|socketio|proxy|load_balancer|monitoring)\.[a-z_]+")
    for rule in _rules(_render(HOSTS)[1]):
        if rule["alert"] in FIX_OUTSIDE_THE_PROFILE:
            assert "socket.io-client 4" in rule["annotations"]["description"]
            continue
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert set(rule["annotations"]) == {"summary", "description"}, rule["alert"]
        assert fields.search(rule["annotations"]["description"]), f"{rule['alert']} names no profile field to change"


def test_scrape_hosts_targets_every_host_and_port_and_local_scrapes_loopback() -> None:
    _, files = _render(HOSTS)
    config = yaml.safe_load(files["monitoring/prometheus.yml"])
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "swarmdeploy-dash" and config["rule_files"] == ["dash.rules.yml"]
    assert job["static_configs"] == [
        {"targets": ["10.0.0.11:8050", "10.0.0.11:8051"], "labels": {"host": "web-a"}},
        {"targets": ["[fd00::12]:8050", "[fd00::12]:8051"], "labels": {"host": "web-b"}},
    ]
    assert config["global"]["scrape_interval"] == "30s" and config["global"]["evaluation_interval"] == "30s"
    _, local = _render(Path("profiles/multi-node.yaml").resolve())
    (job,) = yaml.safe_load(local["monitoring/prometheus.yml"])["scrape_configs"]
    assert job["static_configs"] == [{"targets": [f"127.0.0.1:{port}" for port in range(8050, 8054)]}]
    _, every_address = _render(Path("profiles/dev.yaml").resolve(), server__bind="0.0.0.0")
    (job,) = yaml.safe_load(every_address["monitoring/prometheus.yml"])["scrape_configs"]
    assert job["static_configs"] == [{"targets": ["127.0.0.1:8050"]}]


def test_windows_and_for_are_counted_in_scrapes() -> None:
    rules = {rule["alert"]: rule for rule in _rules(_render(HOSTS)[1])}  # scrape_interval 30
    assert rules["SwarmdeployInstanceDown"]["for"] == "2m"
    assert "[10m]" in rules["SwarmdeployOriginRefused"]["expr"] and rules["SwarmdeployOriginRefused"]["for"] == "10m"
    _, fast = _render(HOSTS, monitoring__scrape_interval=1)  # as the live test runs it
    rules = {rule["alert"]: rule for rule in _rules(fast)}
    assert rules["SwarmdeployInstanceDown"]["for"] == "4s" and "[20s]" in rules["SwarmdeployLatencyPoor"]["expr"]
    assert yaml.safe_load(fast["monitoring/prometheus.yml"])["global"]["scrape_timeout"] == "1s"


def test_latency_bands_are_bounds_of_the_round_trip_histogram() -> None:
    """Otherwise histogram_quantile interpolates across a band and the grade is a guess."""
    monitoring = load_profile(HOSTS).model["monitoring"]
    assert {monitoring["latency_fair"], monitoring["latency_poor"], 0.05} <= set(ROUND_TRIP_BUCKETS)


def test_dashboard_is_json_with_one_id_per_panel_and_the_jobs_queries() -> None:
    _, files = _render(Path("profiles/prod.yaml").resolve())
    dashboard = json.loads(files["monitoring/grafana-dashboard.json"])
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and dashboard["uid"] == "swarmdeploy-swarmbot" and len(dashboard["uid"]) <= 40
    cells = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        area = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
        for target in panel["targets"]:
            assert 'job="swarmdeploy-swarmbot", instance=~"$instance"' in target["expr"], target


def test_monitoring_applies_only_to_the_bundled_server() -> None:
    model = load_profile(Path("profiles/dev.yaml").resolve()).model
    model["server"]["app"] = "mydashboard.app:create_app"
    assert "monitoring/prometheus.yml" not in render_files(model)
    with pytest.raises(UsageError, match="server.app: swarmdeploy.server:create_app"):
        render_files(model, ["monitoring"])
