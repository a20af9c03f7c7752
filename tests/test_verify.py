"""verify against real deployments: a healthy stack passes every check; each real breakage fails
exactly the check that should catch it, with the fix, and leaves the other checks passing."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from server_stack import Supervisor
from test_multi_host import FAILING_CHECKS, PASSING_CHECKS
from verify_stack import RunningStack, Scenario, deploy, stalled

from conftest import require_tool
from swarmdeploy.verify.api import verify
from swarmdeploy.verify.registry import CHECKS
from swarmdeploy.verify.result import CheckResult, Status

pytestmark = pytest.mark.integration

# The two opt-in checks need --soak / --browser; hosts needs a balancer (tests/test_multi_host.py).
ALWAYS_RUN = frozenset(CHECKS) - {"idle", "browser", "hosts"}
SHORT_PINGS = {"ping_interval": 2, "ping_timeout": 1}  # so a soak past nginx's timeout stays short
SHORT_PROXY = {"read_timeout": 5, "send_timeout": 5}


def _drop_lines(pattern: str):
    def edit(site: str) -> str:
        kept = [line for line in site.splitlines() if not re.search(pattern, line)]
        assert len(kept) < len(site.splitlines()), f"no line matches {pattern}"
        return "\n".join(kept) + "\n"
    return edit


def _replace(old: str, new: str):
    def edit(site: str) -> str:
        assert old in site, old
        return site.replace(old, new)
    return edit


def _stop_second_instance(running: RunningStack) -> None:
    running.supervisor.stop(running.stack.instances[1].process)


def _hand_edit_site(running: RunningStack) -> None:
    site = next(p for p in running.target.deployment.files if p.endswith("verifytest.conf"))
    Path(site).write_text(Path(site).read_text() + "# tuned by hand\n")


SCENARIOS = [
    Scenario("healthy", passes=ALWAYS_RUN),
    Scenario("healthy-soak", passes=frozenset({"idle"}), socketio=SHORT_PINGS, proxy=SHORT_PROXY, soak=6),
    Scenario("healthy-browser", passes=frozenset({"browser"}), browser=True),
    Scenario("nginx-down", check="reachability", fix="start nginx", also_fails=frozenset({"host"}),
             start_nginx=False),
    Scenario("no-upgrade-headers", check="websocket", fix="proxy_set_header Upgrade",
             edit_site=_drop_lines(r"proxy_set_header (Upgrade|Connection) ")),
    Scenario("no-upgrade-headers-browser", check="browser", fix="websocket check", also_fails=frozenset({"websocket"}),
             edit_site=_drop_lines(r"proxy_set_header (Upgrade|Connection) "), browser=True),
    Scenario("cors-mismatch", check="cors", fix="socketio.cors_allowed_origins",
             env={"SWARMDEPLOY_CORS_ALLOWED_ORIGINS": "https://other.example.com"}),
    Scenario("no-stickiness", check="stickiness", fix="proxy.sticky: ip_hash",
             edit_site=_drop_lines(r"^\s*ip_hash;")),
    Scenario("no-message-queue", check="broadcast", fix="server.message_queue",
             env={"SWARMDEPLOY_MESSAGE_QUEUE": ""}),
    Scenario("wrong-hostname", check="tls", fix="does not name localhost", certificate="wrong-host"),
    Scenario("expired-certificate", check="tls", fix="expired", certificate="expired"),
    Scenario("legacy-tls", check="tls", fix="ssl_protocols TLSv1.2 TLSv1.3",
             edit_site=_replace("ssl_protocols TLSv1.2 TLSv1.3;", "ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;")),
    Scenario("short-read-timeout", check="idle", fix="proxy_read_timeout", socketio=SHORT_PINGS,
             proxy=SHORT_PROXY, edit_site=_replace("proxy_read_timeout 5s;", "proxy_read_timeout 1s;"), soak=4),
    Scenario("instance-down", check="host", fix="systemctl start", after_start=_stop_second_instance),
    Scenario("polling-disabled", check="polling", fix="SWARMDEPLOY_TRANSPORTS",
             env={"SWARMDEPLOY_TRANSPORTS": "websocket"}),
    Scenario("upgrades-off", check="upgrade", fix="SWARMDEPLOY_ALLOW_UPGRADES",
             env={"SWARMDEPLOY_ALLOW_UPGRADES": "false"}),
    Scenario("wrong-ping-interval", check="handshake", fix="SWARMDEPLOY_PING_INTERVAL",
             env={"SWARMDEPLOY_PING_INTERVAL": "10"}),
    Scenario("stalled-server", check="latency", fix="stalled", stall=True),
    Scenario("drift", check="host", fix="redeploy", after_start=_hand_edit_site),
]


def _describe(results: list[CheckResult]) -> str:
    return "\n".join(f"{r.check}: {r.status.value} " + " | ".join(f"{o.what}: {o.status.value} {o.saw} {o.fix}"
                                                                for o in r.observations) for r in results)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_verify_scenario(scenario: Scenario, tmp_path: Path, supervisor: Supervisor) -> None:
    for tool in ("nginx", "redis-server"):
        require_tool(tool)
    if scenario.browser:
        require_tool("chromium")
    running = deploy(tmp_path, supervisor, scenario)
    with stalled(running.stack) if scenario.stall else contextlib.nullcontext():
        results = verify(running.target)
    by_name = {r.check: r for r in results}
    report = _describe(results)
    assert list(by_name) == list(CHECKS)
    failing = {scenario.check, *scenario.also_fails} - {""}
    for name in failing:
        assert by_name[name].status is Status.FAIL, report
    if scenario.check:
        assert any(scenario.fix in o.fix for o in by_name[scenario.check].observations if o.status is Status.FAIL), report
    for name in scenario.passes:
        assert by_name[name].status is Status.PASS, report
    others = [r.check for r in results if r.status is Status.FAIL and r.check not in failing]
    assert not others, report


def test_every_check_has_a_passing_and_a_failing_scenario() -> None:
    failing = {s.check for s in SCENARIOS} | FAILING_CHECKS
    passing = set().union(*(s.passes for s in SCENARIOS)) | PASSING_CHECKS
    assert set(CHECKS) - failing == set(), "checks without a failing scenario"
    assert set(CHECKS) - passing == set(), "checks without a passing scenario"
