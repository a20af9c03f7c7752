"""Resume end to end: 200 clients (docs/resume.md's Python ResumingClient) subscribed to a room through nginx with
TLS, a publisher sending 20 events/s for the whole test, and the clients' connections cut three ways: their
network drops for 3 s, an instance is killed, a redeploy restarts every instance. Each client must end with
every event exactly once, in order, and no resync (history covers every gap here).

Clients and publisher are separate processes (tests/resume_load.py); the clients reach nginx through a link the
test can cut (tests/cuttable_link.py); the deployment is `swarmdeploy deploy` with the process manager.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import require_tool
from cuttable_link import CuttableLink
from deploy_support import LocalDeployment

from swarmdeploy.deploy.process_manager import ProcessManager
from swarmdeploy.deploy.releases import current_release

LOAD = Path(__file__).with_name("resume_load.py")
CLIENTS = 200
RATE = 20  # events per second
ROOM = "resume-test"
TOKEN_VARIABLE = "RESUME_TEST_PUBLISH_TOKEN"  # not SWARMDEPLOY_*: the process manager passes it to instances
OUTAGE_S = 3.0
SETTLE_S = 2.0  # events published before the first cut
BACK_WITHIN_S = 30.0  # every client connected again after a cut (seconds; the machine is shared)


def _wait_for(path: Path, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"{process.args[2]} exited {process.returncode}"
        assert time.monotonic() < deadline, f"{path.name} not written within {timeout} s"
        time.sleep(0.1)


def _summary(delivered: list, truth: list) -> str:
    seqs = [seq for _, seq, _ in delivered]
    dupes = len(seqs) - len(set(seqs))
    lost = len({tuple(e) for e in truth} - {tuple(e) for e in delivered})
    return (f"{len(delivered)} delivered of {len(truth)}: {lost} lost, {dupes} duplicates, "
            f"in order {seqs == sorted(seqs)}")


@pytest.mark.integration
def test_every_client_gets_every_event_once_in_order_across_three_kinds_of_cut(local: LocalDeployment,
                                                                                tmp_path: Path) -> None:
    require_tool("nginx")
    require_tool("redis-server")
    token = secrets.token_hex(16)
    env = {**os.environ, TOKEN_VARIABLE: token}
    # History holds the whole test (history_limit x max_http_buffer_size stays under the profile's 4 GiB rule).
    sections = {"server": {"publish_token_env": TOKEN_VARIABLE},
                "socketio": {"history_limit": 5000, "max_http_buffer_size": 100_000}}
    first = local.deploy(profile=local.write(**sections), env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    ports = current_release(local.layout).model["server"]["ports"]
    link = CuttableLink(("127.0.0.1", local.data["site"]["https_port"])).start()
    clients = publisher = None
    try:
        ready, stop = tmp_path / "ready", tmp_path / "stop"
        clients = subprocess.Popen([sys.executable, str(LOAD), "clients", f"https://localhost:{link.port}", ROOM,
                                    "--count", str(CLIENTS), "--out", str(tmp_path / "clients.json"),
                                    "--ready", str(ready), "--timeout", "40"])
        _wait_for(ready, clients, 60)
        started = time.monotonic()
        publisher = subprocess.Popen([sys.executable, str(LOAD), "publish", ROOM, "--rate", str(RATE),
                                      "--urls", ",".join(f"http://127.0.0.1:{p}" for p in ports), "--token", token,
                                      "--stop", str(stop), "--redis", local.data["server"]["message_queue"],
                                      "--name", local.data["name"], "--out", str(tmp_path / "publisher.json")])
        time.sleep(SETTLE_S)
        phases: dict[str, float] = {}  # cut -> seconds until every client was connected again

        def back(cut: str, since: float) -> None:
            """Every client connected again (each cut starts from all connected, so cuts never overlap)."""
            assert link.wait_live(CLIENTS, BACK_WITHIN_S), f"after the {cut}: {link.live} of {CLIENTS} connected"
            phases[cut] = round(time.monotonic() - since, 1)

        cut = time.monotonic()
        link.drop(OUTAGE_S)  # 1: the clients' network
        while link.live == CLIENTS and time.monotonic() < cut + OUTAGE_S + 5:  # the reset connections end
            time.sleep(0.05)
        back("drop", cut)
        killed = ProcessManager(local.layout).main_pid(f"instance-{ports[0]}")  # 2: an instance dies
        assert killed, "the first instance is not running"
        cut = time.monotonic()
        os.kill(killed, signal.SIGKILL)
        while link.live == CLIENTS and time.monotonic() < cut + 5:  # nginx closes the dead instance's clients
            time.sleep(0.05)
        back("kill", cut)
        cut = time.monotonic()
        redeploy = local.deploy(profile=local.write(**sections, proxy={"worker_shutdown_timeout": 2}), env=env)
        assert redeploy.returncode == 0, redeploy.stdout + redeploy.stderr  # 3: every instance restarts
        time.sleep(2)  # nginx's old workers close what they still hold (worker_shutdown_timeout)
        back("redeploy", cut)

        stop.touch()
        assert publisher.wait(30) == 0
        published_s = time.monotonic() - started
        assert clients.wait(60) == 0
    finally:
        link.stop()
        for process in (publisher, clients):
            if process and process.poll() is None:
                process.kill()
                process.wait(10)
    sent = json.loads((tmp_path / "publisher.json").read_text())
    results = json.loads((tmp_path / "clients.json").read_text())["clients"]
    truth = sent["truth"]

    # The publisher ran for the whole test, and history holds every event it was told was accepted.
    assert len(truth) >= RATE * published_s * 0.7, f"{len(truth)} events in {published_s:.0f} s"
    assert [seq for _, seq, _ in truth] == list(range(1, len(truth) + 1)), "history has a hole"
    assert {tuple(e) for e in sent["accepted"]} <= {tuple(e) for e in truth}
    assert truth[-1][2] == "end"
    reconnects = sorted(len(r["reconnect_seconds"]) for r in results)
    wrong = [(n, _summary(r["delivered"], truth)) for n, r in enumerate(results) if r["delivered"] != truth]
    caught_up = sorted(s for r in results for s in r["back_seconds"])
    print(f"\n{CLIENTS} clients, {len(truth)} events in {published_s:.0f} s, reconnects per client "
          f"{dict(Counter(reconnects))}, {link.connections} connections; back to live p50 "
          f"{caught_up[len(caught_up) // 2]:.2f} s, max {caught_up[-1]:.2f} s; all connected again (s after each "
          f"cut) {phases}; publish attempts refused {sent['failed_attempts']}")
    # Every cut reached every client: the drop and the redeploy cut all, the kill about half.
    assert reconnects[0] >= 2, f"a client reconnected {reconnects[0]} times"
    assert not wrong, f"{len(wrong)} clients differ from history, e.g. {wrong[:3]}"
    assert not [r["resyncs"] for r in results if r["resyncs"]], "a resync within the history bound"
