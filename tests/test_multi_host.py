"""Several hosts behind HAProxy, on a real private network: two web hosts (each `swarmdeploy deploy`
with the process manager: nginx with TLS and two instances), one shared Redis, HAProxy rendered by
swarmdeploy in front, and a client host. Hosts are network namespaces made by the test (tests/netns.py):
addresses that exist only inside them, no route out, all deleted at the end.

HAProxy listens on non-default ports (8080, 8443), so every redirect must name the public port.
Through HAProxy, verify passes and real python-socketio clients are pinned to one host, a publish on
one host reaches a client on the other, and HAProxy without its stickiness cookie fails the stickiness
check. Then one breakage at a time, each restored before the next test: a host whose certificate the
balancer refuses, a balancer that refuses every host (503), a host running other ping settings, the
message queue down and back, a balancer timeout below pingInterval, and broken balancer certificates.
Last, host A stops entirely: HAProxy takes it out, verify names it, and its clients are served by
host B. The figures (deploy, verify per check, detection and failover times) print with `-s`.
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from netns import Network, require_netns

from conftest import REPO, require_tool
from swarmdeploy.deploy.certificates import PrivateCA
from swarmdeploy.profile import load_profile
from swarmdeploy.render import render_files
from swarmdeploy.verify.fleet import NO_HOST_IN_SERVICE

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("multi-host")]

SWARMDEPLOY = str(Path(sys.executable).parent / "swarmdeploy")
CLIENT = str(REPO / "tests" / "multi_host_client.py")
SERVER_NAME = "dash.example.test"
HTTP_PORT, HTTPS_PORT = 8080, 8443  # the balancer's public ports: not the defaults, so redirects must name them
PUBLIC_URL = f"https://{SERVER_NAME}:{HTTPS_PORT}"
WEB_HOSTS = ["web-a", "web-b"]
NAME = "fleet"
COOKIE = "SWARMSRV"
HEALTH_INTERVAL = 1  # seconds; HAProxy takes a host out after UNHEALTHY failed checks
UNHEALTHY = 2
START_TIMEOUT = 30.0
SOAK = 1.5  # seconds idle in the passing verify; a balancer timeout of 1 s must fail it
# The verify checks this module proves passing and failing through a balancer; the meta-test in
# tests/test_verify.py counts them with its own scenarios.
PASSING_CHECKS = frozenset({"hosts", "stickiness", "broadcast", "tls", "idle", "browser"})
FAILING_CHECKS = frozenset({"hosts", "stickiness", "handshake", "broadcast", "idle", "tls"})


@dataclass
class Fleet:
    net: Network
    workdir: Path
    profile: Path
    authority: PrivateCA  # signed every certificate the fleet serves; HAProxy's load_balancer.backend_ca_file
    other: PrivateCA  # a CA nothing in the fleet trusts
    haproxy_config: Path
    admin_socket: Path
    haproxy: subprocess.Popen | None = None
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def ca(self) -> Path:
        return self.authority.ca_file

    def root(self, host: str) -> Path:
        return self.workdir / host / "root"

    def tls_dir(self, host: str) -> Path:
        return self.root(host) / "etc" / "ssl" / NAME

    def swarmdeploy(self, host: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return self.net.run(host, [SWARMDEPLOY, *args], timeout=timeout, env=_client_env(self.ca))

    def verify_command(self, *args: str, profile: Path | None = None) -> subprocess.CompletedProcess[str]:
        return self.swarmdeploy("client", "verify", str(profile or self.profile), "--address", self.net.address("lb"),
                                *args, timeout=120)

    def verify(self, *args: str, profile: Path | None = None) -> tuple[int, dict]:
        result = self.verify_command("--json", *args, profile=profile)
        assert result.stdout.startswith("{"), result.stdout + result.stderr
        return result.returncode, json.loads(result.stdout)

    def client(self, *args: str, timeout: float = 60) -> dict:
        result = self.net.run("client", [sys.executable, CLIENT, *args, "--ca", str(self.ca), "--cookie", COOKIE],
                              timeout=timeout, env=_client_env(self.ca))
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout.splitlines()[-1])

    def start_haproxy(self, config: str, state: str = "UP") -> None:
        """HAProxy with `config`, once it sees every host in `state` (DOWN: it refuses them all)."""
        self.stop_haproxy()
        self.haproxy_config.write_text(config)
        self.haproxy = self.net.spawn("lb", [require_tool("haproxy"), "-db", "-f", str(self.haproxy_config)],
                                      log=self.workdir / "haproxy.log")
        self.wait_states({host: state for host in WEB_HOSTS})

    def stop_haproxy(self) -> None:
        if self.haproxy and self.haproxy.poll() is None:
            self.haproxy.terminate()
            self.haproxy.wait(10)

    def wait_states(self, states: dict[str, str]) -> float:
        return _wait(lambda: all(self.server_states()[host] == state for host, state in states.items()),
                     START_TIMEOUT, f"HAProxy sees {states}", self.workdir / "haproxy.log")

    def server_states(self) -> dict[str, str]:
        """Each host's state as HAProxy sees it, from its runtime API (a Unix socket: no network needed)."""
        with socket.socket(socket.AF_UNIX) as api:
            api.settimeout(2)
            api.connect(str(self.admin_socket))
            api.sendall(b"show stat\n")
            data = b""
            while chunk := api.recv(65536):
                data += chunk
        rows = [line.split(",") for line in data.decode().splitlines() if line and not line.startswith("#")]
        return {row[1]: row[17].split()[0] for row in rows if row[1] in WEB_HOSTS}

    def serve_certificate(self, host: str, chain: Path, key: Path) -> None:
        """The host's nginx serves this certificate from now on (restarted as its operator would)."""
        shutil.copy(chain, self.tls_dir(host) / "fullchain.pem")
        shutil.copy(key, self.tls_dir(host) / "privkey.pem")
        result = self.swarmdeploy(host, "restart", "nginx", "--root", str(self.root(host)), timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr

    def status(self, host: str) -> dict:
        result = self.swarmdeploy(host, "status", "--json", "--root", str(self.root(host)), timeout=60)
        return json.loads(result.stdout)

    def instance_pids(self) -> dict[str, int]:
        with ThreadPoolExecutor(len(WEB_HOSTS)) as pool:
            reports = dict(zip(WEB_HOSTS, pool.map(self.status, WEB_HOSTS), strict=True))
        return {f"{host} {row['service']}": row["pid"] for host, report in reports.items()
                for row in report["services"] if row["service"].startswith("instance-")}

    def profile_with(self, name: str, change) -> Path:
        """A copy of the fleet's profile, changed by change(data)."""
        data = yaml.safe_load(self.profile.read_text())
        change(data)
        path = self.workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path


def _client_env(ca: Path) -> dict[str, str]:
    """requests honours REQUESTS_CA_BUNDLE over its own verify= (this machine sets it): point it at the test CA."""
    import os

    return {**os.environ, "REQUESTS_CA_BUNDLE": str(ca), "COLUMNS": "160"}


def _wait(check, timeout: float, what: str, log: Path | None = None) -> float:
    """Seconds until check() is true."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if check():
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise AssertionError(f"{what}: not within {timeout} s\n{tail}")


def _profile(workdir: Path, net: Network, ca: Path) -> Path:
    lb = workdir / "lb"
    data = {
        "name": NAME,
        "environment": "production",
        "server": {"instances": 2, "base_port": 8050, "venv": sys.prefix, "log_level": "warning",
                   "message_queue": f"redis://{net.address('redis')}:6379/0"},
        "socketio": {"cors_allowed_origins": [PUBLIC_URL]},
        "site": {"server_names": [SERVER_NAME]},
        "tls": {"profile": "intermediate", "certificate": f"/etc/ssl/{NAME}/fullchain.pem",
                "certificate_key": f"/etc/ssl/{NAME}/privkey.pem"},
        # Under each host's --root: the process manager's run dir holds nginx's pid and logs.
        "proxy": {"real_ip_from": [net.address("lb")], "worker_processes": 1, "worker_connections": 1024,
                  "pid_file": f"/var/lib/swarmdeploy/{NAME}/run/nginx.pid",
                  "log_dir": f"/var/lib/swarmdeploy/{NAME}/run"},
        "load_balancer": {
            "kind": "haproxy", "certificate": str(lb / "haproxy.pem"), "backend_ca_file": str(ca),
            "http_port": HTTP_PORT, "https_port": HTTPS_PORT,
            "admin_socket": str(lb / "admin.sock"), "cookie_name": COOKIE,
            "health_check_interval": HEALTH_INTERVAL, "unhealthy_threshold": UNHEALTHY, "healthy_threshold": 1,
            "hosts": [{"name": host, "address": net.address(host)} for host in WEB_HOSTS],
        },
        "verify": {"ca_file": str(ca)},
    }
    path = workdir / f"{NAME}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _start_redis(net: Network, workdir: Path) -> None:
    address = net.address("redis")
    net.spawn("redis", [require_tool("redis-server"), "--bind", address, "--port", "6379", "--protected-mode", "no",
                        "--save", "", "--appendonly", "no", "--dir", str(workdir)], log=workdir / "redis.log")
    probe = [sys.executable, "-c", f"import socket; socket.create_connection(('{address}', 6379), 1).close()"]
    _wait(lambda: net.run("client", probe, timeout=5).returncode == 0, START_TIMEOUT, "redis", workdir / "redis.log")


def _deploy(fleet: Fleet, host: str, chain: Path, key: Path) -> float:
    """One host's deploy, as its operator runs it; returns its wall time."""
    tls = fleet.tls_dir(host)
    tls.mkdir(parents=True)
    shutil.copy(chain, tls / "fullchain.pem")
    shutil.copy(key, tls / "privkey.pem")
    start = time.monotonic()
    result = fleet.swarmdeploy(host, "deploy", str(fleet.profile), "--root", str(fleet.root(host)),
                               "--service-manager", "process", "--yes", "--ca-file", str(fleet.ca))
    assert result.returncode == 0, f"deploy on {host}:\n{result.stdout}\n{result.stderr}"
    return time.monotonic() - start


def _redeploy(fleet: Fleet, host: str, profile: Path) -> None:
    """A deploy of `profile` on a host that runs the fleet already (its own verify skipped: the test verifies)."""
    result = fleet.swarmdeploy(host, "deploy", str(profile), "--root", str(fleet.root(host)), "--service-manager",
                               "process", "--yes", "--no-verify")
    assert result.returncode == 0, f"deploy on {host}:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    require_netns()
    for tool in ("nginx", "redis-server", "haproxy"):
        require_tool(tool)
    started = time.monotonic()
    workdir = tmp_path_factory.mktemp("multi-host")
    with Network(["lb", *WEB_HOSTS, "redis", "client"], {SERVER_NAME: "lb"}) as net:
        authority = PrivateCA(workdir / "ca" / "ca.pem")
        chain, key = workdir / "ca" / "fullchain.pem", workdir / "ca" / "privkey.pem"
        authority.issue(chain, key, [SERVER_NAME])  # the hosts' nginx and HAProxy serve the same name
        (workdir / "lb").mkdir()
        (workdir / "lb" / "haproxy.pem").write_text(chain.read_text() + key.read_text())
        profile = _profile(workdir, net, authority.ca_file)
        fleet = Fleet(net, workdir, profile, authority, PrivateCA(workdir / "other-ca" / "ca.pem"),
                      workdir / "lb" / "haproxy.cfg", workdir / "lb" / "admin.sock")
        try:
            _start_redis(net, workdir)
            with ThreadPoolExecutor(len(WEB_HOSTS)) as pool:
                times = list(pool.map(lambda host: _deploy(fleet, host, chain, key), WEB_HOSTS))
            fleet.figures.update({f"deploy {host} (s)": round(t, 2) for host, t in zip(WEB_HOSTS, times, strict=True)})
            fleet.start_haproxy(render_files(load_profile(profile).model, ["haproxy"])["haproxy/haproxy.cfg"])
            fleet.figures["fleet ready (s)"] = round(time.monotonic() - started, 2)
            yield fleet
        finally:
            fleet.stop_haproxy()
            for host in WEB_HOSTS:
                subprocess.run([SWARMDEPLOY, "stop", "--root", str(fleet.root(host))], check=False, capture_output=True,
                               timeout=60)
            print("\nmulti-host figures:", json.dumps(fleet.figures, indent=2))


def _checks(report: dict) -> dict[str, dict]:
    return {check["check"]: check for check in report["checks"]}


def _observations(check: dict) -> str:
    return " | ".join(f"{o['what']}: {o['status']} {o['saw']} {o['fix']}" for o in check["observations"])


def _by_what(check: dict) -> dict[str, dict]:
    """A check's observations by their first word: 'web-a (10.213.0.2:443)' is web-a."""
    return {o["what"].split()[0]: o for o in check["observations"]}


def test_verify_through_haproxy_passes(fleet: Fleet) -> None:
    require_tool("chromium")
    code, report = fleet.verify("--browser", "--soak", str(SOAK))
    checks = _checks(report)
    assert code == 0, json.dumps(report, indent=1)
    fleet.figures.update({f"verify {name} (ms)": round(check["seconds"] * 1000) for name, check in checks.items()})
    fleet.figures["verify through HAProxy, browser and soak included (s)"] = round(
        sum(check["seconds"] for check in checks.values()), 2)
    # Each host judged as HAProxy judges it (its backend_ca_file), running the profile's pings; the balancer answers.
    hosts = _by_what(checks["hosts"])
    assert {what: o["status"] for what, o in hosts.items()} == {
        "trust": "pass", "web-a": "pass", "web-b": "pass", "balancer": "pass"}, _observations(checks["hosts"])
    assert "load_balancer.backend_ca_file" in hosts["trust"]["saw"] and "as the balancer does" in hosts["trust"]["saw"]
    assert all("pingInterval 25000 ms" in hosts[host]["saw"] for host in WEB_HOSTS), _observations(checks["hosts"])
    stickiness = _observations(checks["stickiness"])
    assert checks["stickiness"]["status"] == "pass" and f"cookie {COOKIE} pinned them to web-a, web-b" in stickiness, \
        stickiness
    broadcast = checks["broadcast"]["observations"][0]
    assert broadcast["what"] == "cross-host" and broadcast["status"] == "pass", _observations(checks["broadcast"])
    # The live HAProxy endpoint: Mozilla intermediate by sslyze, HSTS, a 308 redirect to the public port exactly.
    tls = _by_what(checks["tls"])
    assert tls["Mozilla"]["status"] == "pass" and tls["HSTS"]["status"] == "pass", _observations(checks["tls"])
    assert tls["redirect"]["saw"] == f"308 -> {PUBLIC_URL}/verify-redirect?x=1", _observations(checks["tls"])
    # Idle through HAProxy: a WebSocket and a long-polling session both held for the soak.
    assert [(o["what"], o["status"]) for o in checks["idle"]["observations"]] == [
        ("WebSocket soak", "pass"), ("polling soak", "pass")], _observations(checks["idle"])
    assert checks["host"]["status"] == "skip"  # each host's own state is verified on that host
    # A real browser through HAProxy (HTTP/2 for the page) ends up on WebSocket.
    assert checks["browser"]["status"] == "pass", _observations(checks["browser"])


def test_a_polling_session_stays_on_one_host(fleet: Fleet) -> None:
    result = fleet.client("polling", PUBLIC_URL, "--pings", "10")
    assert len(result["instances"]) == 10
    hosts = {instance.split("@")[1].rsplit(":")[0] for instance in result["instances"]}
    assert len(hosts) == 1, result
    # The cookie HAProxy inserted names the host that served every request (|dates follow with maxlife).
    assert result["cookies"].get(COOKIE, "").split("|")[0] == hosts.pop(), result


def test_a_publish_on_one_host_reaches_a_client_on_the_other(fleet: Fleet) -> None:
    result = fleet.client("publish", PUBLIC_URL, "--from", "web-a", "--to", "web-b")
    assert (result["publisher_host"], result["subscriber_host"]) == ("web-a", "web-b"), result
    assert result["publish"].get("ok") and result["arrived"], result


def test_hosts_see_the_client_address_not_the_balancer(fleet: Fleet) -> None:
    """realip trusts only HAProxy's X-Forwarded-For, so the hosts' ip_hash and limits see real clients."""
    fleet.client("polling", PUBLIC_URL, "--pings", "1")
    logs = "".join((fleet.root(host) / "var" / "lib" / "swarmdeploy" / NAME / "run" / "access.log").read_text()
                   for host in WEB_HOSTS)
    addresses = {line.split()[0] for line in logs.splitlines() if "/socket.io/" in line}
    assert fleet.net.address("client") in addresses, addresses
    assert fleet.net.address("lb") not in addresses, addresses


def test_without_stickiness_the_stickiness_check_fails_and_names_the_fix(fleet: Fleet) -> None:
    rendered = fleet.haproxy_config.read_text()
    unsticky = re.sub(r"^\s*cookie .*\n", "", rendered, flags=re.MULTILINE).replace(" cookie web-a", "").replace(
        " cookie web-b", "")
    assert COOKIE not in unsticky
    fleet.start_haproxy(unsticky)
    try:
        code, report = fleet.verify()
    finally:
        fleet.start_haproxy(rendered)
    checks = _checks(report)
    assert code == 1 and checks["stickiness"]["status"] == "fail", json.dumps(report, indent=1)
    assert "load_balancer.stickiness: cookie" in _observations(checks["stickiness"])
    assert [name for name, check in checks.items() if check["status"] == "fail"] == ["stickiness"], \
        json.dumps(report, indent=1)


def test_a_host_whose_certificate_the_balancer_refuses_is_named(fleet: Fleet) -> None:
    """web-b's certificate from a CA HAProxy does not trust: HAProxy takes it out. verify trusts that CA too
    (--ca-file with both), so only judging hosts as the balancer does names web-b."""
    chain, key = fleet.workdir / "other-ca" / "fullchain.pem", fleet.workdir / "other-ca" / "privkey.pem"
    fleet.other.issue(chain, key, [SERVER_NAME])
    both = fleet.workdir / "both-cas.pem"
    both.write_text(fleet.ca.read_text() + fleet.other.ca_file.read_text())
    fleet.serve_certificate("web-b", chain, key)
    try:
        fleet.wait_states({"web-a": "UP", "web-b": "DOWN"})
        code, report = fleet.verify("--ca-file", str(both), "--only", "hosts", "--only", "stickiness")
    finally:
        fleet.serve_certificate("web-b", fleet.ca.with_name("fullchain.pem"), fleet.ca.with_name("privkey.pem"))
        fleet.wait_states({"web-a": "UP", "web-b": "UP"})
    checks = _checks(report)
    hosts = _by_what(checks["hosts"])
    assert code == 1 and [w for w, o in hosts.items() if o["status"] == "fail"] == ["web-b"], \
        _observations(checks["hosts"])
    assert "load_balancer.backend_ca_file" in hosts["web-b"]["fix"] and "refuses" in hosts["web-b"]["fix"], hosts
    assert hosts["balancer"]["status"] == "pass"  # web-a serves everyone meanwhile
    reached = _by_what(checks["stickiness"])["hosts"]
    assert reached["status"] == "warn" and "the balancer sent no session to web-b" in reached["saw"], \
        _observations(checks["stickiness"])


def _errorfile(fleet: Fleet) -> Path:
    """A 503 page with terminal escape sequences: what a balancer (or anything on the path) may answer."""
    page = fleet.workdir / "lb" / "503.http"
    page.write_bytes(b"HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\nConnection: close\r\n"
                     b"Content-Type: text/plain\r\n\r\n\x1b[2J\x1b]0;owned\x07no server is available\n")
    return page


def test_a_balancer_that_refuses_every_answering_host_names_its_health_checks(fleet: Fleet) -> None:
    """HAProxy trusts another CA than the hosts': it answers 503 while both hosts answer verify."""
    rendered = fleet.haproxy_config.read_text()
    refusing = rendered.replace(f"ca-file {fleet.ca} ", f"ca-file {fleet.other.ca_file} ").replace(
        "\ndefaults\n", f"\ndefaults\n    errorfile 503 {_errorfile(fleet)}\n")
    assert refusing.count(str(fleet.other.ca_file)) == 1 and "errorfile" in refusing
    # An IPv6 host in the report: its label must print with its brackets.
    ipv6 = fleet.profile_with("fleet-ipv6", lambda data: data["load_balancer"]["hosts"].append(
        {"name": "web-c", "address": "fd00::c"}))
    fleet.start_haproxy(refusing, state="DOWN")
    try:
        code, report = fleet.verify("--only", "hosts", "--only", "handshake")
        table = fleet.verify_command("--only", "hosts", "--only", "handshake", profile=ipv6)
    finally:
        fleet.start_haproxy(rendered)
    checks = _checks(report)
    hosts = _by_what(checks["hosts"])
    assert code == 1 and hosts["web-a"]["status"] == hosts["web-b"]["status"] == "pass", _observations(checks["hosts"])
    balancer = hosts["balancer"]
    assert balancer["status"] == "fail" and "answered 503" in balancer["saw"] and "web-a, web-b" in balancer["saw"]
    for named in ("load_balancer.backend_ca_file", SERVER_NAME, "load_balancer.health_check_path",
                  "http://127.0.0.1:8404/stats"):
        assert named in balancer["fix"], balancer
    # The handshake fails too, pointing at the hosts check instead of at nginx.
    assert checks["handshake"]["observations"][0]["fix"] == NO_HOST_IN_SERVICE, _observations(checks["handshake"])
    # The table: the label keeps its brackets; the page's escape sequences are shown, never sent to the terminal.
    assert "[fd00::c]:443" in table.stdout, table.stdout
    assert "\x1b" not in table.stdout and "\x07" not in table.stdout, table.stdout
    assert "\\x1b[2J\\x1b]0;owned\\x07no server" in table.stdout, table.stdout


def test_a_host_running_other_ping_settings_is_named(fleet: Fleet) -> None:
    """web-b deployed from a profile with another ping_interval: clients get either setting; verify names web-b."""
    changed = fleet.profile_with("fleet-pings", lambda data: data["socketio"].update(ping_interval=10))
    _redeploy(fleet, "web-b", changed)
    try:
        code, report = fleet.verify("--only", "hosts")
    finally:
        _redeploy(fleet, "web-b", fleet.profile)
    hosts = _by_what(_checks(report)["hosts"])
    assert code == 1 and [w for w, o in hosts.items() if o["status"] == "fail"] == ["web-b"], hosts
    assert "pingInterval 10000 ms, the profile says 25000 ms" in hosts["web-b"]["saw"], hosts["web-b"]
    assert "deploy this profile on web-b" in hosts["web-b"]["fix"], hosts["web-b"]
    fleet.wait_states({"web-a": "UP", "web-b": "UP"})


def test_the_message_queue_down_fails_broadcast_and_back_passes_without_restarts(fleet: Fleet) -> None:
    pids = fleet.instance_pids()
    queue = f"redis://{fleet.net.address('redis')}:6379/0"
    fleet.net.stop_host("redis")
    try:
        code, report = fleet.verify("--only", "broadcast")
    finally:
        _start_redis(fleet.net, fleet.workdir)
    broadcast = _checks(report)["broadcast"]["observations"][0]
    assert code == 1 and broadcast["status"] == "fail" and queue in broadcast["fix"], broadcast
    # The instances reconnect by themselves: no restart, and verify passes again.
    _wait(lambda: all(row["health"]["status"] == "ok" for host in WEB_HOSTS
                      for row in fleet.status(host)["services"] if row["service"].startswith("instance-")),
          START_TIMEOUT, "every instance reaches the queue again")
    code, report = fleet.verify()
    assert code == 0 and _checks(report)["broadcast"]["status"] == "pass", json.dumps(report, indent=1)
    assert fleet.instance_pids() == pids


def test_a_balancer_timeout_below_ping_interval_fails_idle_and_a_redirect_to_the_http_port_fails_tls(
        fleet: Fleet) -> None:
    """HAProxy's timeout server of 1 s answers a pending long-poll 504 (WebSockets, under timeout tunnel, live on);
    HAProxy's plain `redirect scheme https` keeps the request's port, 8080."""
    rendered = fleet.haproxy_config.read_text()
    broken = re.sub(r"timeout server \d+s", "timeout server 1s", rendered)
    broken = re.sub(r"http-request redirect location \S+", "http-request redirect scheme https", broken)
    assert broken.count("timeout server 1s") == 1 and "redirect scheme https code 308" in broken
    fleet.start_haproxy(broken)
    try:
        code, report = fleet.verify("--only", "idle", "--only", "tls", "--soak", str(SOAK))
    finally:
        fleet.start_haproxy(rendered)
    checks = _checks(report)
    idle = _by_what(checks["idle"])
    assert code == 1 and idle["WebSocket"]["status"] == "pass", _observations(checks["idle"])
    assert idle["polling"]["status"] == "fail" and "504" in idle["polling"]["saw"], idle["polling"]
    for named in ("load_balancer.timeout_server", "load_balancer.timeout_client", "proxy_read_timeout"):
        assert named in idle["polling"]["fix"], idle["polling"]
    redirect = _by_what(checks["tls"])["redirect"]
    assert redirect["status"] == "fail" and f"https://{SERVER_NAME}:{HTTP_PORT}/" in redirect["saw"], redirect
    assert f"{PUBLIC_URL}/verify-redirect?x=1" in redirect["fix"], redirect


def _not_yet_valid(authority: PrivateCA, chain: Path, key_path: Path) -> None:
    """A leaf of `authority` whose validity starts tomorrow (a clock behind, or a certificate issued ahead)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)]))
            .issuer_name(authority.certificate.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVER_NAME)]), critical=False)
            .sign(authority.key, hashes.SHA256()))
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM)
                      + authority.certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))


def _balancer_pem(fleet: Fleet, kind: str) -> Path:
    """HAProxy's PEM (chain, then key) with a certificate of `kind`."""
    directory = fleet.workdir / "lb" / kind
    directory.mkdir()
    chain, key = directory / "fullchain.pem", directory / "privkey.pem"
    if kind == "not-yet-valid":
        _not_yet_valid(fleet.authority, chain, key)
    else:
        (fleet.other if kind == "untrusted" else fleet.authority).issue(chain, key, [SERVER_NAME],
                                                                       expired=kind == "expired")
    pem = directory / "haproxy.pem"
    pem.write_text(chain.read_text() + key.read_text())
    return pem


# Port of a second HAProxy on the balancer host -> what is wrong with its TLS, and what the fix must name.
BROKEN_TLS = {
    9441: ("expired", "certificate", "load_balancer.certificate"),
    9442: ("untrusted", "certificate", "load_balancer.certificate"),
    9443: ("not-yet-valid", "certificate", "check the clocks"),
    9444: ("legacy", "TLS", "ssl-default-bind-options"),
}


def test_tls_fixes_name_the_balancer(fleet: Fleet) -> None:
    """A second HAProxy on the balancer host, one port per broken TLS setup: each fix names the balancer's
    certificate or TLS lines, not nginx's or certbot's."""
    binds = []
    for port, (kind, _, _) in BROKEN_TLS.items():
        options = "ssl-min-ver TLSv1.0 ciphers DEFAULT:@SECLEVEL=0" if kind == "legacy" else ""
        pem = fleet.workdir / "lb" / "haproxy.pem" if kind == "legacy" else _balancer_pem(fleet, kind)
        binds.append(f"    bind :{port} ssl crt {pem} {options}")
    config = fleet.workdir / "lb" / "broken-tls.cfg"
    config.write_text("defaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n"
                      "    timeout server 10s\n\nfrontend broken_tls\n" + "\n".join(binds)
                      + "\n    http-request return status 200 content-type text/plain string ok\n")
    haproxy = fleet.net.spawn("lb", [require_tool("haproxy"), "-db", "-f", str(config)],
                              log=fleet.workdir / "broken-tls.log")
    try:
        probe = [sys.executable, "-c", "import socket; socket.create_connection(('lb', 9444), 1).close()"]
        _wait(lambda: fleet.net.run("client", probe, timeout=5).returncode == 0, START_TIMEOUT,
              "the second HAProxy listens", fleet.workdir / "broken-tls.log")
        with ThreadPoolExecutor(len(BROKEN_TLS)) as pool:
            reports = dict(zip(BROKEN_TLS, pool.map(
                lambda port: fleet.verify("--url", f"https://{SERVER_NAME}:{port}", "--only", "tls")[1], BROKEN_TLS),
                strict=True))
    finally:
        haproxy.terminate()
        haproxy.wait(10)
    for port, (kind, what, named) in BROKEN_TLS.items():
        tls = _checks(reports[port])["tls"]
        observation = _by_what(tls).get(what)
        assert observation and observation["status"] == "fail", f"{kind}: {_observations(tls)}"
        assert named in observation["fix"] and "nginx" not in observation["fix"], f"{kind}: {observation}"


def test_a_host_that_stops_is_taken_out_named_and_its_clients_move(fleet: Fleet) -> None:
    """Last in this module: host A does not come back."""
    log = fleet.workdir / "failover-client.log"
    client = fleet.net.spawn("client", [sys.executable, CLIENT, "failover", PUBLIC_URL, "--ca",
                                        str(fleet.ca), "--cookie", COOKIE, "--pin", "web-a", "--wait", "30"],
                             log=log, env=_client_env(fleet.ca))
    _wait(lambda: '"ready"' in log.read_text(), START_TIMEOUT, "the failover client is connected to web-a", log)
    assert json.loads(log.read_text().splitlines()[0]) == {"ready": "web-a"}

    stopped = time.monotonic()
    fleet.net.stop_host("web-a")
    fleet.figures["host stopped (s)"] = round(time.monotonic() - stopped, 2)
    detected = _wait(lambda: fleet.server_states()["web-a"] == "DOWN", 5 * HEALTH_INTERVAL * UNHEALTHY,
                     "HAProxy marks web-a DOWN", fleet.workdir / "haproxy.log")
    fleet.figures["HAProxy marked web-a DOWN after (s)"] = round(detected, 2)
    assert fleet.server_states()["web-b"] == "UP"

    client.wait(40)
    result = json.loads(log.read_text().splitlines()[-1])
    assert result.get("after") == "web-b", result
    fleet.figures["client served again by web-b after (s)"] = result["seconds"]

    code, report = fleet.verify()
    checks = _checks(report)
    assert code == 1 and checks["hosts"]["status"] == "fail", json.dumps(report, indent=1)
    failed = [o for o in checks["hosts"]["observations"] if o["status"] == "fail"]
    assert [o["what"].split()[0] for o in failed] == ["web-a"], _observations(checks["hosts"])
    assert "refused" in failed[0]["saw"] and "web-a" in failed[0]["fix"], failed
