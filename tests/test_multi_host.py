"""Several hosts behind HAProxy, on a real private network: two web hosts (each `swarmdeploy deploy`
with the process manager: nginx with TLS and two instances), one shared Redis, HAProxy rendered by
swarmdeploy in front, and a client host. Hosts are network namespaces made by the test (tests/netns.py):
addresses that exist only inside them, no route out, all deleted at the end.

Through HAProxy, verify passes and real python-socketio clients are pinned to one host, a publish on
one host reaches a client on the other, and HAProxy without its stickiness cookie fails the stickiness
check. Then host A stops entirely: HAProxy takes it out, verify names it, and its clients are served by
host B. The figures (deploy, verify per check, detection and failover times) print with `-s`.
"""

from __future__ import annotations

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

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("multi-host")]

SWARMDEPLOY = str(Path(sys.executable).parent / "swarmdeploy")
CLIENT = str(REPO / "tests" / "multi_host_client.py")
SERVER_NAME = "dash.example.test"
WEB_HOSTS = ["web-a", "web-b"]
NAME = "fleet"
COOKIE = "SWARMSRV"
HEALTH_INTERVAL = 1  # seconds; HAProxy takes a host out after UNHEALTHY failed checks
UNHEALTHY = 2
START_TIMEOUT = 30.0
# The verify checks this module proves passing and failing through a balancer; the meta-test in
# tests/test_verify.py counts them with its own scenarios.
PASSING_CHECKS = frozenset({"hosts", "stickiness", "broadcast", "tls", "browser"})
FAILING_CHECKS = frozenset({"hosts", "stickiness"})


@dataclass
class Fleet:
    net: Network
    workdir: Path
    profile: Path
    ca: Path
    haproxy_config: Path
    admin_socket: Path
    haproxy: subprocess.Popen | None = None
    figures: dict[str, float] = field(default_factory=dict)

    def root(self, host: str) -> Path:
        return self.workdir / host / "root"

    def swarmdeploy(self, host: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return self.net.run(host, [SWARMDEPLOY, *args], timeout=timeout, env=_client_env(self.ca))

    def verify(self, *args: str) -> tuple[int, dict]:
        result = self.swarmdeploy("client", "verify", str(self.profile), "--address", self.net.address("lb"),
                                  "--json", *args, timeout=120)
        assert result.stdout.startswith("{"), result.stdout + result.stderr
        return result.returncode, json.loads(result.stdout)

    def client(self, *args: str, timeout: float = 60) -> dict:
        result = self.net.run("client", [sys.executable, CLIENT, *args, "--ca", str(self.ca), "--cookie", COOKIE],
                              timeout=timeout, env=_client_env(self.ca))
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout.splitlines()[-1])

    def start_haproxy(self, config: str) -> None:
        self.stop_haproxy()
        self.haproxy_config.write_text(config)
        self.haproxy = self.net.spawn("lb", [require_tool("haproxy"), "-db", "-f", str(self.haproxy_config)],
                                      log=self.workdir / "haproxy.log")
        _wait(lambda: all(state == "UP" for state in self.server_states().values()), START_TIMEOUT,
              "HAProxy sees every host UP", self.workdir / "haproxy.log")

    def stop_haproxy(self) -> None:
        if self.haproxy and self.haproxy.poll() is None:
            self.haproxy.terminate()
            self.haproxy.wait(10)

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
        "socketio": {"cors_allowed_origins": [f"https://{SERVER_NAME}"]},
        "site": {"server_names": [SERVER_NAME]},
        "tls": {"profile": "intermediate", "certificate": f"/etc/ssl/{NAME}/fullchain.pem",
                "certificate_key": f"/etc/ssl/{NAME}/privkey.pem"},
        # Under each host's --root: the process manager's run dir holds nginx's pid and logs.
        "proxy": {"real_ip_from": [net.address("lb")], "worker_processes": 1, "worker_connections": 1024,
                  "pid_file": f"/var/lib/swarmdeploy/{NAME}/run/nginx.pid",
                  "log_dir": f"/var/lib/swarmdeploy/{NAME}/run"},
        "load_balancer": {
            "kind": "haproxy", "certificate": str(lb / "haproxy.pem"), "backend_ca_file": str(ca),
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
    tls = fleet.root(host) / "etc" / "ssl" / NAME
    tls.mkdir(parents=True)
    shutil.copy(chain, tls / "fullchain.pem")
    shutil.copy(key, tls / "privkey.pem")
    start = time.monotonic()
    result = fleet.swarmdeploy(host, "deploy", str(fleet.profile), "--root", str(fleet.root(host)),
                               "--service-manager", "process", "--yes", "--ca-file", str(fleet.ca))
    assert result.returncode == 0, f"deploy on {host}:\n{result.stdout}\n{result.stderr}"
    return time.monotonic() - start


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
        fleet = Fleet(net, workdir, profile, authority.ca_file, workdir / "lb" / "haproxy.cfg",
                      workdir / "lb" / "admin.sock")
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
                subprocess.run([SWARMDEPLOY, "stop", "--root", str(fleet.root(host))], capture_output=True, timeout=60)
            print("\nmulti-host figures:", json.dumps(fleet.figures, indent=2))


def _checks(report: dict) -> dict[str, dict]:
    return {check["check"]: check for check in report["checks"]}


def _observations(check: dict) -> str:
    return " | ".join(f"{o['what']}: {o['status']} {o['saw']} {o['fix']}" for o in check["observations"])


def test_verify_through_haproxy_passes(fleet: Fleet) -> None:
    require_tool("chromium")
    code, report = fleet.verify("--browser")
    checks = _checks(report)
    assert code == 0, json.dumps(report, indent=1)
    fleet.figures.update({f"verify {name} (ms)": round(check["seconds"] * 1000) for name, check in checks.items()})
    hosts = {o["what"].split()[0]: o["status"] for o in checks["hosts"]["observations"]}
    assert hosts == {"web-a": "pass", "web-b": "pass"}, _observations(checks["hosts"])
    stickiness = _observations(checks["stickiness"])
    assert checks["stickiness"]["status"] == "pass" and f"cookie {COOKIE} pinned them to web-a, web-b" in stickiness, \
        stickiness
    broadcast = checks["broadcast"]["observations"][0]
    assert broadcast["what"] == "cross-host" and broadcast["status"] == "pass", _observations(checks["broadcast"])
    # The live HAProxy endpoint: Mozilla intermediate by sslyze, HSTS, a 308 redirect.
    tls = {o["what"]: o["status"] for o in checks["tls"]["observations"]}
    assert tls["Mozilla profile"] == "pass" and tls["HSTS"] == "pass" and tls["redirect"] == "pass", \
        _observations(checks["tls"])
    assert checks["host"]["status"] == "skip"  # each host's own state is verified on that host
    # A real browser through HAProxy (HTTP/2 for the page) ends up on WebSocket.
    assert checks["browser"]["status"] == "pass", _observations(checks["browser"])


def test_a_polling_session_stays_on_one_host(fleet: Fleet) -> None:
    result = fleet.client("polling", f"https://{SERVER_NAME}", "--pings", "10")
    assert len(result["instances"]) == 10
    hosts = {instance.split("@")[1].rsplit(":")[0] for instance in result["instances"]}
    assert len(hosts) == 1, result
    # The cookie HAProxy inserted names the host that served every request (|dates follow with maxlife).
    assert result["cookies"].get(COOKIE, "").split("|")[0] == hosts.pop(), result


def test_a_publish_on_one_host_reaches_a_client_on_the_other(fleet: Fleet) -> None:
    result = fleet.client("publish", f"https://{SERVER_NAME}", "--from", "web-a", "--to", "web-b")
    assert (result["publisher_host"], result["subscriber_host"]) == ("web-a", "web-b"), result
    assert result["publish"].get("ok") and result["arrived"], result


def test_hosts_see_the_client_address_not_the_balancer(fleet: Fleet) -> None:
    """realip trusts only HAProxy's X-Forwarded-For, so the hosts' ip_hash and limits see real clients."""
    fleet.client("polling", f"https://{SERVER_NAME}", "--pings", "1")
    logs = "".join((fleet.root(host) / "var" / "lib" / "swarmdeploy" / NAME / "run" / "access.log").read_text()
                   for host in WEB_HOSTS)
    addresses = {line.split()[0] for line in logs.splitlines() if "/socket.io/" in line}
    assert fleet.net.address("client") in addresses, addresses
    assert fleet.net.address("lb") not in addresses, addresses


def test_without_stickiness_the_stickiness_check_fails_and_names_the_fix(fleet: Fleet) -> None:
    rendered = fleet.haproxy_config.read_text()
    unsticky = re.sub(r"^\s*cookie .*\n", "", rendered, flags=re.M).replace(" cookie web-a", "").replace(
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


def test_a_host_that_stops_is_taken_out_named_and_its_clients_move(fleet: Fleet) -> None:
    """Last in this module: host A does not come back."""
    log = fleet.workdir / "failover-client.log"
    client = fleet.net.spawn("client", [sys.executable, CLIENT, "failover", f"https://{SERVER_NAME}", "--ca",
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
