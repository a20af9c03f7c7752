"""verify against real deployments: a healthy stack passes every check; each real breakage fails
exactly the check that should catch it, with the fix, and leaves the other checks passing."""

from __future__ import annotations

import contextlib
import re
import signal
from pathlib import Path

import pytest
from server_stack import START_TIMEOUT, Supervisor, http_json, unit_command, unit_environment, wait_until
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


def _substitute(pattern: str, new: str):
    def edit(site: str) -> str:
        edited, count = re.subn(pattern, new, site)
        assert count, f"nothing matches {pattern}"
        return edited
    return edit


def _stop_second_instance(running: RunningStack) -> None:
    running.supervisor.stop(running.stack.instances[1].process)


def _second_instance_with(env: dict[str, str]):
    """Restart only the second instance with changed settings: ip_hash sends verify to one instance."""
    def restart(running: RunningStack) -> None:
        instance = running.stack.instances[1]
        running.supervisor.stop(instance.process)
        files, name = running.stack.files, running.stack.model["name"]
        process = running.supervisor.start(unit_command(files, name, instance.port),
                                           {**unit_environment(files, name, instance.port), **env},
                                           label=f"{instance.label}-changed", stop_signal=signal.SIGINT)
        wait_until(lambda: http_json(f"{instance.url}/healthz"), START_TIMEOUT, "the changed instance", process)
    return restart


def _stop_redis(running: RunningStack) -> None:
    running.supervisor.stop(running.redis)


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
    Scenario("cors-any-origin", check="cors", fix="accepts any origin", env={"SWARMDEPLOY_CORS_ALLOWED_ORIGINS": "*"}),
    Scenario("no-stickiness", check="stickiness", fix="proxy.sticky: ip_hash",
             edit_site=_drop_lines(r"^\s*ip_hash;")),
    Scenario("no-message-queue", check="broadcast", fix="server.message_queue", also_fails=frozenset({"instances"}),
             env={"SWARMDEPLOY_MESSAGE_QUEUE": ""}),
    Scenario("message-queue-down", check="broadcast", fix="start the Redis at redis://127.0.0.1:",
             also_fails=frozenset({"instances"}), after_start=_stop_redis),
    Scenario("wrong-hostname", check="tls", fix="does not name localhost", certificate="wrong-host"),
    Scenario("expired-certificate", check="tls", fix="expired", certificate="expired"),
    Scenario("legacy-tls", check="tls", fix="ssl_protocols TLSv1.2 TLSv1.3",
             edit_site=_replace("ssl_protocols TLSv1.2 TLSv1.3;", "ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;")),
    # Only the live probe sees this site (no deployed files): TLS 1.0 really offered, at OpenSSL's security level 0.
    Scenario("legacy-tls-live", check="tls", fix="ssl_protocols TLSv1.2 TLSv1.3", record_files=False,
             edit_site=_replace("ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_ciphers ",
                                "ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;\n    ssl_ciphers DEFAULT:@SECLEVEL=0:")),
    Scenario("no-hsts", check="tls", fix="tls.hsts: true", edit_site=_drop_lines(r"Strict-Transport-Security")),
    Scenario("redirect-301", check="tls", fix="308", edit_site=_replace("return 308 ", "return 301 ")),
    # $http_host keeps the port the request came to: https://localhost:HTTP_PORT/..., where no TLS listens.
    Scenario("redirect-wrong-port", check="tls", fix="/verify-redirect?x=1 (the public host and port",
             edit_site=_substitute(r"return 308 https://\$host:\d+", "return 308 https://$http_host")),
    # OpenSSL and browsers trust it; strict RFC 5280 clients (sslyze, cryptography) do not: a warning that names
    # what the CA lacks, never a config problem.
    Scenario("plain-openssl-ca", check="tls", outcome=Status.WARN, fix="keyUsage=critical,keyCertSign",
             certificate="plain-openssl-ca", passes=frozenset({"handshake"})),
    Scenario("short-read-timeout", check="idle", fix="proxy_read_timeout", socketio=SHORT_PINGS,
             proxy=SHORT_PROXY, edit_site=_replace("proxy_read_timeout 5s;", "proxy_read_timeout 1s;"), soak=4),
    Scenario("instance-down", check="host", fix="systemctl start", also_fails=frozenset({"instances"}),
             after_start=_stop_second_instance),
    Scenario("one-instance-other-pings", check="instances", fix="swarmdeploy restart instance-",
             after_start=_second_instance_with({"SWARMDEPLOY_PING_INTERVAL": "10"})),
    Scenario("polling-disabled", check="polling", fix="SWARMDEPLOY_TRANSPORTS",
             env={"SWARMDEPLOY_TRANSPORTS": "websocket"}),
    Scenario("upgrades-off", check="upgrade", fix="SWARMDEPLOY_ALLOW_UPGRADES",
             env={"SWARMDEPLOY_ALLOW_UPGRADES": "false"}),
    Scenario("wrong-ping-interval", check="handshake", fix="SWARMDEPLOY_PING_INTERVAL",
             also_fails=frozenset({"instances"}), env={"SWARMDEPLOY_PING_INTERVAL": "10"}),
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
    failing = (({scenario.check} if scenario.outcome is Status.FAIL else set()) | scenario.also_fails) - {""}
    for name in failing:
        assert by_name[name].status is Status.FAIL, report
    if scenario.check:
        assert by_name[scenario.check].status is scenario.outcome, report
        assert any(scenario.fix in o.fix for o in by_name[scenario.check].observations
                   if o.status is scenario.outcome), report
    for name in scenario.passes:
        assert by_name[name].status is Status.PASS, report
    others = [r.check for r in results if r.status is Status.FAIL and r.check not in failing]
    assert not others, report
    _assert_fixes_name_what_was_rendered(results, running.stack.files)


# nginx directives and variables a fix may quote: each must be in the rendered config it refers to.
_NGINX_WORDS = re.compile(r"(\$[a-z_]+|\b(?:proxy|ssl|limit|real_ip|client|worker|add)_[a-z_]+\b|\bip_hash\b)")


def _assert_fixes_name_what_was_rendered(results: list[CheckResult], files: dict[str, str]) -> None:
    rendered = "\n".join(text for path, text in files.items() if path.startswith("nginx/"))
    for result in results:
        for observation in result.observations:
            quoted = set(_NGINX_WORDS.findall(observation.fix))
            missing = sorted(word for word in quoted if word not in rendered)
            assert not missing, f"{result.check}: the fix names {missing}, which the rendered site lacks: {observation.fix}"


def test_every_check_has_a_passing_and_a_failing_scenario() -> None:
    failing = {s.check for s in SCENARIOS if s.outcome is Status.FAIL} | FAILING_CHECKS
    passing = set().union(*(s.passes for s in SCENARIOS)) | PASSING_CHECKS
    assert set(CHECKS) - failing == set(), "checks without a failing scenario"
    assert set(CHECKS) - passing == set(), "checks without a passing scenario"
