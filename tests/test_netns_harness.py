"""Smoke tests of tests/netns.py: real namespaces and processes; no packet leaves the private /24."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netns import ETC_NETNS, NETNS_RUN, Network, network_fixture, require_netns  # noqa: F401 - the `network` fixture

pytestmark = pytest.mark.integration

# Answers every TCP connection on port 8000 of its host with its first argument.
SERVER = """
import socket, sys
server = socket.create_server(("0.0.0.0", 8000))
while True:
    connection, _ = server.accept()
    connection.sendall(sys.argv[1].encode())
    connection.close()
"""

# Prints the answer of ADDRESS:8000, retrying for SECONDS while the server starts; exit 1 without one.
CLIENT = """
import socket, sys, time
deadline = time.monotonic() + float(sys.argv[2])
while True:
    try:
        with socket.create_connection((sys.argv[1], 8000), timeout=0.5) as connection:
            print(connection.makefile().read())
        break
    except OSError as error:
        if time.monotonic() > deadline:
            sys.exit(f"no answer: {error!r}")
        time.sleep(0.05)
"""

# Starts a sleeper in a session of its own with no inherited descriptors (a daemon) and prints its pid.
DAEMONIZE = """
import subprocess, sys
sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(sleeper.pid)
"""


IGNORE_SIGTERM = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(300)
"""


def serve(net: Network, host: str, answer: str, log_dir: Path) -> subprocess.Popen[bytes]:
    return net.spawn(host, [sys.executable, "-c", SERVER, answer], log=log_dir / f"{host}-{answer}.log")


def ask(net: Network, host: str, address: str, seconds: float = 10.0) -> subprocess.CompletedProcess[str]:
    """What the server at address answers a client on `host`."""
    return net.run(host, [sys.executable, "-c", CLIENT, address, str(seconds)])


def running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def our_namespaces() -> list[str]:
    """Namespaces of this test process in `ip netns list`."""
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in listing.splitlines() if line.startswith(f"sd{os.getpid()}-")]


def root_network() -> dict[str, set[str]]:
    """Links, addresses and routes of the root namespace (names and prefixes: counters change)."""
    def ip(*args: str) -> list[str]:
        return subprocess.run(["ip", *args], capture_output=True, text=True, check=True).stdout.splitlines()

    return {
        "links": {line.split(": ")[1] for line in ip("-o", "link")},
        "addresses": {" ".join(line.split()[1:4]) for line in ip("-o", "addr")},
        "routes": {*ip("-4", "route", "show", "table", "all"), *ip("-6", "route", "show", "table", "all")},
    }


def test_hosts_reach_each_other_over_tcp(network, tmp_path: Path) -> None:
    net = network(["web-a", "client"])
    serve(net, "web-a", "hello from web-a", tmp_path)

    answer = ask(net, "client", net.address("web-a"))

    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == "hello from web-a"
    assert net.address("web-a") != net.address("client")
    assert ask(net, "web-a", "127.0.0.1").stdout.strip() == "hello from web-a"  # its loopback is up


def test_each_host_and_its_children_see_its_hostname_and_network(network, tmp_path: Path) -> None:
    own_hostname = socket.gethostname()
    net = network(["web-a", "web-b"])
    who = ("import os, socket, subprocess, sys; print(socket.gethostname(), os.environ['HOSTNAME']); "
           "subprocess.run([sys.executable, '-c', 'import os, socket; "
           "print(socket.gethostname(), os.stat(\"/proc/self/ns/net\").st_ino)'], check=True)")

    for host in net.hosts:
        namespace = os.stat(NETNS_RUN / net.namespace(host)).st_ino
        assert net.run(host, [sys.executable, "-c", who], check=True).stdout.splitlines() == [
            f"{host} {host}", f"{host} {namespace}"]
        log = tmp_path / f"{host}.log"
        assert net.spawn(host, [sys.executable, "-c", "import socket; print(socket.gethostname())"], log=log).wait(10) == 0
        assert log.read_text().strip() == host
    assert socket.gethostname() == own_hostname


def test_hosts_map_resolves_inside_every_host(network) -> None:
    etc_hosts = Path("/etc/hosts").read_text()
    net = network(["lb", "web-a"], hosts_map={"dash.example.test": "lb"})
    resolve = ("import socket, sys\nfor name in sys.argv[1:]:\n"
               "    print(name, *sorted({a[4][0] for a in socket.getaddrinfo(name, None, socket.AF_INET)}))")
    expected = [f"dash.example.test {net.address('lb')}", f"web-a {net.address('web-a')}", "localhost 127.0.0.1"]

    for host in net.hosts:
        result = net.run(host, [sys.executable, "-c", resolve, "dash.example.test", "web-a", "localhost"])
        assert result.stdout.splitlines() == expected, result.stderr
    assert Path("/etc/hosts").read_text() == etc_hosts


def test_no_route_out_and_the_root_namespace_is_untouched(network) -> None:
    before = root_network()
    net = network(["web-a", "web-b"])

    for host in net.hosts:
        route = net.run(host, ["ip", "route", "get", "1.1.1.1"])  # asks the kernel; sends nothing
        assert route.returncode != 0 and "unreachable" in route.stderr, route
        assert net.run(host, ["ip", "route", "show", "default"], check=True).stdout == ""
        assert net.run(host, ["ip", "-6", "route", "show", "default"], check=True).stdout == ""
    assert root_network() == before


def test_stop_host_kills_detached_processes_of_that_host_only(network, tmp_path: Path) -> None:
    net = network(["web-a", "web-b", "client"])
    daemon = int(net.run("web-a", [sys.executable, "-c", DAEMONIZE], check=True).stdout)
    server_a = serve(net, "web-a", "a", tmp_path)
    serve(net, "web-b", "b", tmp_path)
    assert ask(net, "client", net.address("web-a")).stdout.strip() == "a"
    assert running(daemon) and os.getsid(daemon) == daemon  # really detached: a session of its own

    net.stop_host("web-a")

    assert not running(daemon)
    assert server_a.returncode == -signal.SIGTERM  # reaped by the harness
    assert ask(net, "client", net.address("web-a"), seconds=0).returncode == 1
    assert ask(net, "client", net.address("web-b")).stdout.strip() == "b"
    serve(net, "web-a", "a again", tmp_path)  # the host comes back up
    assert ask(net, "client", net.address("web-a")).stdout.strip() == "a again"


def test_a_process_ignoring_sigterm_is_killed_after_stop_timeout(network, tmp_path: Path) -> None:
    net = network(["web-a"], stop_timeout=0.3)
    log = tmp_path / "stubborn.log"
    stubborn = net.spawn("web-a", [sys.executable, "-c", IGNORE_SIGTERM], log=log)
    deadline = time.monotonic() + 10
    while "ready" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)

    started = time.monotonic()
    net.stop_host("web-a")

    assert stubborn.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 2


def test_teardown_after_an_exception_leaves_no_namespace_file_or_process(tmp_path: Path) -> None:
    require_netns()
    with pytest.raises(RuntimeError, match="the test body failed"), \
            Network(["web-a", "web-b"], hosts_map={"dash.example.test": "web-a"}) as net:
        server = serve(net, "web-a", "a", tmp_path)
        daemon = int(net.run("web-b", [sys.executable, "-c", DAEMONIZE], check=True).stdout)
        namespaces = [net.namespace(host) for host in net.hosts]
        assert all((ETC_NETNS / namespace / "hosts").is_file() for namespace in namespaces)
        assert len(our_namespaces()) == 3  # two hosts and the switch
        raise RuntimeError("the test body failed")

    assert our_namespaces() == []
    assert not any((ETC_NETNS / namespace).exists() for namespace in namespaces)
    assert server.returncode is not None and not running(daemon)


def test_two_networks_at_once_do_not_collide(network, tmp_path: Path) -> None:
    first, second = network(["web-a", "client"]), network(["web-a", "client"])
    serve(first, "web-a", "first", tmp_path)
    serve(second, "web-a", "second", tmp_path)

    assert first.address("web-a") == second.address("web-a")
    assert {first.namespace(h) for h in first.hosts}.isdisjoint(second.namespace(h) for h in second.hosts)
    assert ask(first, "client", first.address("web-a")).stdout.strip() == "first"
    assert ask(second, "client", second.address("web-a")).stdout.strip() == "second"


def test_isolate_drops_the_host_until_reconnect(network, tmp_path: Path) -> None:
    net = network(["web-a", "client"])
    serve(net, "web-a", "a", tmp_path)
    assert ask(net, "client", net.address("web-a")).stdout.strip() == "a"

    net.isolate("web-a")
    dropped = ask(net, "client", net.address("web-a"), seconds=0)
    net.reconnect("web-a")

    assert dropped.returncode == 1 and "timed out" in dropped.stderr
    assert ask(net, "client", net.address("web-a")).stdout.strip() == "a"


@pytest.mark.parametrize(("hosts", "hosts_map"), [
    (["Web_A"], {}),
    (["web-a", "web-a"], {}),
    ([], {}),
    (["web-a"], {"dash.example.test": "lb"}),
    (["web-a"], {"dash example.test": "web-a"}),
])
def test_names_that_cannot_be_hostnames_are_refused(hosts: list[str], hosts_map: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        Network(hosts, hosts_map)
