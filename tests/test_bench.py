"""swarmdeploy bench against the local demo deployed under a temporary root: its figures agree with
benchmarks/socketio_load.py at the same client count, it stops at the first step that breaks a threshold (an
instance stalled on purpose), and it refuses to load another host before opening any socket."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from deploy_support import LocalDeployment, local_deployment, run

from conftest import REPO, require_tool
from swarmdeploy.bench.target import MAX_REMOTE_CLIENTS, BenchTarget, is_loopback, refuse_remote_load
from swarmdeploy.cli import main
from swarmdeploy.deploy.health import instance_health
from swarmdeploy.errors import UsageError

# One deployment for the module, on one worker: the load of one test would skew another's figures.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("bench")]

CLIENTS = 200


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    for tool in ("nginx", "redis-server"):
        require_tool(tool)
    local = local_deployment(tmp_path_factory.mktemp("bench"))
    result = local.deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    yield local
    local.stop()


def bench(local: LocalDeployment, *args: str) -> tuple[int, dict]:
    result = run("bench", "--root", str(local.root), "--json", *args, timeout=180)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return result.returncode, json.loads(result.stdout)


def test_bench_agrees_with_the_benchmark_script_at_the_same_client_count(deployed: LocalDeployment) -> None:
    code, report = bench(deployed, "--clients", str(CLIENTS), "--duration", "3")
    assert code == 0, report
    [step] = report["steps"]
    assert (step["connected"], step["failed"], step["dropped"], step["lost"]) == (CLIENTS, 0, 0, 0), step
    assert step["sent"] >= CLIENTS * 2  # every client pinged about once a second in the 3 s window
    # The instances run here, so memory per connection and server CPU are measured; the client's CPU always.
    assert step["kib_per_connection"] > 0 and step["server_cpu_percent"] > 0 and step["client_cpu_percent"] > 0
    assert report["capacity"].startswith(f"held {CLIENTS} clients, p99 ")

    script = subprocess.run([sys.executable, str(REPO / "benchmarks" / "socketio_load.py"), "--clients", str(CLIENTS),
                             "--duration", "3", "--json"], capture_output=True, text=True, timeout=180, check=False)
    assert script.returncode == 0, script.stdout + script.stderr
    figures = json.loads(script.stdout)
    assert (figures["connected"], figures["failed"], figures["lost_pongs"]) == (CLIENTS, 0, 0), figures
    # One client, two stacks of the same shape (TLS through nginx, two gevent instances): the same figures
    # within the noise of a shared 2-core machine.
    ours, theirs = step["p50_ms"], figures["rtt_ms"]["p50"]
    assert max(ours, theirs) <= 5 * min(ours, theirs) + 2, (ours, theirs)
    # Both ping once a second per client; the memory of a connection in the instances (this test loads the
    # module's stack first, so its RSS grows from idle as the script's fresh stack does).
    assert abs(step["sent"] - figures["pings_sent"]) <= 0.25 * CLIENTS * 3, (step["sent"], figures["pings_sent"])
    ours, theirs = step["kib_per_connection"], figures["server_kib_per_connection"]
    assert theirs / 2 <= ours <= theirs * 2, (ours, theirs)


def test_bench_stops_at_the_first_step_that_breaks_a_threshold(deployed: LocalDeployment) -> None:
    """Steps of 10, 20 and 40 clients; the instances stall for 2 s while the 20-client step is measured."""
    ports = deployed.layout and [deployed.data["server"]["base_port"] + i for i in range(2)]
    workers = [instance_health("127.0.0.1", port)["pid"] for port in ports]
    stalled = threading.Event()

    def stall_during_second_step() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            clients = sum((instance_health("127.0.0.1", port) or {}).get("clients", 0) for port in ports)
            if clients >= 20:
                break
            time.sleep(0.05)
        time.sleep(2.5)  # past the 2 s warm-up, inside the 3 s window
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
        stalled.set()
        try:
            time.sleep(2)
        finally:
            for pid in workers:
                os.kill(pid, signal.SIGCONT)

    staller = threading.Thread(target=stall_during_second_step)
    staller.start()
    try:
        code, report = bench(deployed, "--clients", "10", "--clients", "20", "--clients", "40", "--duration", "3")
    finally:
        staller.join()
    assert stalled.is_set()
    assert code == 1
    assert [step["clients"] for step in report["steps"]] == [10, 20], "it stops at the step that broke"
    first, second = report["steps"]
    assert not first["broken"] and second["broken"]
    assert any(reason.startswith("p99 crossed 150 ms") for reason in second["broken"]), second["broken"]
    assert second["max_ms"] > 1000  # a pong held for most of the stall
    assert report["held"] == 10
    assert report["capacity"].startswith("held 10 clients, p99 ") and "; at 20 p99 crossed 150 ms" in report["capacity"]


def test_bench_refuses_another_host_before_opening_any_socket(tmp_path: Path) -> None:
    """192.0.2.1 (TEST-NET-1) is no host of ours: more than 50 clients are refused, and an audit hook in the
    process proves no socket was created, no name looked up and no load client started."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import json, sys\n"
        "events = []\n"
        "sys.addaudithook(lambda event, args: events.append(event) if event.startswith(('socket.', 'subprocess.'))"
        " else None)\n"
        "from swarmdeploy.cli import main\n"
        "try:\n"
        "    main(['bench', '--url', 'https://192.0.2.1', '--clients', '51'])\n"
        "except SystemExit as done:\n"
        "    print(json.dumps({'code': done.code, 'events': events}))\n")
    result = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, timeout=60, check=False)
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome == {"code": 2, "events": []}, result.stdout + result.stderr
    assert "192.0.2.1 is not this machine's loopback" in result.stderr
    assert "--i-own-this-host" in result.stderr


def test_another_host_takes_a_few_clients_or_the_confirmation() -> None:
    remote = BenchTarget("https://192.0.2.1", "https://192.0.2.1")
    refuse_remote_load(remote, MAX_REMOTE_CLIENTS, confirmed=False)
    refuse_remote_load(remote, MAX_REMOTE_CLIENTS + 1, confirmed=True)
    refuse_remote_load(BenchTarget("https://127.0.0.1:8443", "https://127.0.0.1:8443"), 25_000, confirmed=False)
    with pytest.raises(UsageError, match="pass --i-own-this-host"):
        refuse_remote_load(remote, MAX_REMOTE_CLIENTS + 1, confirmed=False)


def test_loopback_is_judged_without_a_lookup_for_addresses() -> None:
    assert all(is_loopback(host) for host in ("localhost", "127.0.0.1", "127.8.9.10", "::1", "app.localhost"))
    assert not any(is_loopback(host) for host in ("192.0.2.1", "10.0.0.1", "2001:db8::1", "0.0.0.0"))


@pytest.mark.parametrize("args, said", [
    (["--clients", "0"], "0 is not from 1 to 25,000"),
    (["--duration", "0"], "0.0 is not a number of seconds"),
    (["--p99-ms", "nan"], "nan is not a number of milliseconds"),
    (["--url", "ftp://localhost:1"], "give the public URL as https://host[:port]"),
    (["--url", "https://localhost:99999"], "Port out of range"),
])
def test_bench_refuses_bad_arguments_with_exit_2(args: list[str], said: str) -> None:
    result = CliRunner().invoke(main, ["bench", *args])
    assert result.exit_code == 2, result.output
    assert said in result.output
