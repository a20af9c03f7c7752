"""Drained rolling restarts: nginx sends nothing new to the instance a restart stops, the instance closes its
clients' transports so they reconnect at once, and a redeploy under load refuses no connection and answers none
with a 502. The rolling order and what nginx is given at each reload are checked without processes; the rest
with real instances, nginx and `swarmdeploy deploy`."""

from __future__ import annotations

import dataclasses
import json
import re
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import websocket
import yaml
from conftest import PROFILES, require_tool
from deploy_support import LocalDeployment, run, said
from host_render import render_for_host
from reconnecting_clients import Fleet, RunningFleet
from server_stack import start_instances, start_nginx, write_profile

from swarmdeploy.bundle import manifest
from swarmdeploy.deploy.drain import NginxSite, drained_site, rolling_restart
from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.nginx_control import confirm_reload, workers
from swarmdeploy.deploy.process_manager import ProcessManager
from swarmdeploy.deploy.releases import Release, current_release, store_release, switch_current
from swarmdeploy.deploy.rooted import deploy_profile
from swarmdeploy.deploy.services import nginx_service
from swarmdeploy.deploy.systemd_manager import SystemdManager
from swarmdeploy.profile import load_profile
from swarmdeploy.render import render_files
from swarmdeploy.validators.nginx import nginx_argv

DOWN = re.compile(r"server \S+:(\d+) down;")
CLIENTS = 150
SHUTDOWN_TIMEOUT = 4  # nginx's worker_shutdown_timeout in the redeploy test: old workers' clients move within it
SERVED_AGAIN_WITHIN = 5.0  # seconds from a disconnect to the next pong (the clients wait 0.125-0.375 s first)
# What nginx logs when it could not hand a request or a connection to an instance.
UPSTREAM_FAILURE = re.compile(r"connect\(\) failed|no live upstreams|upstream prematurely closed|upstream timed out|"
                              r"reset by peer|while connecting to upstream")


# ------------------------------------------------------------------ the rolling order, without processes


def stored_release(tmp_path: Path, profile: Path = PROFILES / "local.yaml", manager: str = "process",
                   **server: int) -> tuple[Layout, Release]:
    """The profile (with `server` changed) as the current release of a deployment under tmp_path/root."""
    data = yaml.safe_load(profile.read_text())
    data["server"].update(server)
    tmp_path.mkdir(parents=True, exist_ok=True)
    changed = tmp_path / f"stored-{profile.name}"
    changed.write_text(yaml.safe_dump(data))
    model = deploy_profile(changed, tmp_path / "root", manager).model
    layout = Layout(tmp_path / "root", model["name"])
    files = render_files(model)
    release = store_release(layout, "20260101T000000-aaaaaa", files, manifest(files, model, changed.name),
                            {"id": "20260101T000000-aaaaaa", "model": model, "service_manager": "process"})
    switch_current(layout, release)
    return layout, release


class Recorded:
    """Instances that run `running` ports, and an nginx that reads `link`: every restart and every reload, with
    the ports the site nginx reloads marks down."""

    def __init__(self, link: Path, running: set[int]) -> None:
        self.link, self.running, self.events = link, running, []

    def serving(self, _release: Release) -> set[int]:
        return set(self.running)

    def restart_instance(self, _release: Release, port: int) -> None:
        self.events.append(("restart", port))
        self.running.add(port)

    def reload(self) -> None:
        self.events.append(("reload", {int(p) for p in DOWN.findall(self.link.read_text())}))


def test_each_running_instance_restarts_drained_and_nginx_ends_on_the_release_site(tmp_path: Path) -> None:
    layout, release = stored_release(tmp_path, instances=3)
    first, second, new = release.model["server"]["ports"]
    link = tmp_path / "conf.d" / "site.conf"
    recorded = Recorded(link, {first, second})
    site = NginxSite(layout, release, link, recorded.reload)
    reports: list[str] = []
    rolling_restart(release, recorded, site, reports.append)
    assert recorded.events == [("restart", new),  # not in nginx's upstream yet: started before any reload
                               ("reload", {first}), ("restart", first), ("reload", set()),
                               ("reload", {second}), ("restart", second), ("reload", set())]
    assert link.readlink() == layout.current / "nginx" / "swarmbot-local.conf"
    assert not list((layout.state / "drain").iterdir()), "a drained copy outlived the restarts"
    assert f"instance-{first} drained: nginx sends it no new connection" in reports


def test_a_single_instance_or_a_site_this_version_does_not_render_restarts_undrained(tmp_path: Path) -> None:
    layout, single = stored_release(tmp_path / "single", instances=1)
    recorded = Recorded(tmp_path / "single.conf", set(single.model["server"]["ports"]))
    reports: list[str] = []
    rolling_restart(single, recorded, NginxSite(layout, single, recorded.link, recorded.reload), reports.append)
    assert recorded.events == [("restart", single.model["server"]["ports"][0]), ("reload", set())]
    assert "restarts are not drained: a single instance has no other to take its clients" in reports

    layout, older = stored_release(tmp_path / "older")
    site_file = older.path / "nginx" / "swarmbot-local.conf"
    site_file.write_text(site_file.read_text().replace("ip_hash;", "ip_hash;\n    keepalive 8;"))
    recorded = Recorded(tmp_path / "older.conf", set(older.model["server"]["ports"]))
    reports.clear()
    rolling_restart(older, recorded, NginxSite(layout, older, recorded.link, recorded.reload), reports.append)
    assert [event for event, _ in recorded.events] == ["restart", "restart", "reload"]
    assert f"restarts are not drained: release {older.id} has a site this swarmdeploy does not render" in reports


def test_systemd_reloads_debians_nginx_with_each_instance_marked_down_in_turn(tmp_path: Path) -> None:
    layout, release = stored_release(tmp_path, PROFILES / "prod.yaml", "systemd")
    site = layout.root / "etc/nginx/conf.d/swarmbot.conf"
    reloads: list[set[int]] = []

    def host(argv: list[str]) -> subprocess.CompletedProcess:
        if argv[:2] == ["systemctl", "show"]:  # every unit active, nginx's master too
            return subprocess.CompletedProcess(argv, 0, "ActiveState=active\nMainPID=4242\n", "")
        if argv == ["systemctl", "reload", "nginx.service"]:
            reloads.append({int(p) for p in DOWN.findall(site.read_text())})
        return subprocess.CompletedProcess(argv, 0, "", "")

    SystemdManager(layout, host, wait_healthy=False).apply(release, None, report=lambda _m: None)
    assert reloads == [{8050}, set(), {8051}, set()]
    assert site.readlink() == layout.current / "nginx" / "swarmbot.conf"


@pytest.mark.integration
@pytest.mark.parametrize("sticky", ["ip_hash", "hash_remote_addr"])
def test_nginx_accepts_a_drained_site(sticky: str, tmp_path: Path) -> None:
    data = yaml.safe_load((PROFILES / "prod.yaml").read_text())
    data["proxy"]["sticky"] = sticky
    (tmp_path / "prod.yaml").write_text(yaml.safe_dump(data))
    host = render_for_host(tmp_path / "prod.yaml", tmp_path / "host")
    model = load_profile(tmp_path / "host" / "prod.yaml").model
    (tmp_path / "nginx.conf").write_text(host.files["nginx/nginx.conf"])
    (tmp_path / "swarmbot.conf").write_text(drained_site(model, {8051}))
    result = subprocess.run([*nginx_argv(require_tool("nginx"), tmp_path, tmp_path / "nginx.conf",
                                         tmp_path / "startup.log"), "-t"], check=False, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "server 127.0.0.1:8051 down;" in (tmp_path / "swarmbot.conf").read_text()


# ------------------------------------------------------------------ real instances and nginx


def engineio_session(url: str, origin: str) -> websocket.WebSocket:
    """A raw WebSocket, connected to the namespace /."""
    ws = websocket.create_connection(url, timeout=5, origin=origin, sslopt={"cert_reqs": 0})
    assert ws.recv().startswith("0")
    ws.send("40")
    assert ws.recv().startswith("40")
    return ws


def pong(ws: websocket.WebSocket) -> str:
    ws.send('42["ping",{"n":1}]')
    while not (message := ws.recv()).startswith('42["pong"'):
        assert message == "2", message  # only the server's Engine.IO ping may come first
        ws.send("3")
    return message


def closed_after(ws: websocket.WebSocket, limit: float) -> tuple[float, list[str]]:
    """Seconds until the server closed the WebSocket (at most `limit`), and what it sent before."""
    started, seen = time.monotonic(), []
    ws.settimeout(limit)
    try:
        while message := ws.recv():
            seen.append(message)
    except (websocket.WebSocketConnectionClosedException, ConnectionError):
        pass
    except websocket.WebSocketTimeoutException:
        return float("inf"), seen
    return time.monotonic() - started, seen


@pytest.mark.integration
def test_a_stopping_instance_closes_its_transports_so_clients_reconnect_at_once(supervisor, tmp_path: Path) -> None:
    """SIGTERM, gunicorn's graceful stop (systemd's and the process manager's): the WebSocket closes without a
    Socket.IO disconnect (after which socket.io-client would not reconnect), and a long-poll in flight gets
    Engine.IO's close packet, where gunicorn alone would keep both open for its graceful_timeout (30 s)."""
    stack = start_instances(supervisor, write_profile(tmp_path))
    instance = stack.instances[0]
    ws = engineio_session(f"ws://127.0.0.1:{instance.port}/socket.io/?EIO=4&transport=websocket", instance.url)
    poll = f"{instance.url}/socket.io/?EIO=4&transport=polling"
    sid = json.loads(urllib.request.urlopen(poll, timeout=5).read().decode()[1:])["sid"]
    urllib.request.urlopen(urllib.request.Request(f"{poll}&sid={sid}", data=b"40"), timeout=5).read()
    assert urllib.request.urlopen(f"{poll}&sid={sid}", timeout=5).read().startswith(b"40")
    long_poll: list[bytes] = []
    waiting = threading.Thread(target=lambda: long_poll.append(urllib.request.urlopen(f"{poll}&sid={sid}",
                                                                                       timeout=15).read()))
    waiting.start()
    time.sleep(0.5)  # the GET is held by the server: nothing to send yet

    instance.process.send_signal(signal.SIGTERM)
    seconds, seen = closed_after(ws, 10)
    waiting.join(15)
    assert seconds < 3, f"the WebSocket stayed open {seconds} s after SIGTERM"
    assert not any(message.startswith("41") for message in seen), seen  # no "io server disconnect"
    assert long_poll == [b"1"], long_poll  # Engine.IO's close packet: "transport close" for the client
    assert instance.process.wait(10) == 0


@pytest.mark.integration
def test_a_websocket_survives_an_nginx_reload_until_worker_shutdown_timeout(supervisor, tmp_path: Path) -> None:
    stack = start_instances(supervisor, write_profile(tmp_path, proxy={"worker_shutdown_timeout": 3}))
    nginx = start_nginx(supervisor, tmp_path / "nginx", stack.files, stack.model["name"])
    port = stack.model["site"]["http_port"]
    ws = engineio_session(f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", f"http://localhost:{port}")
    pong(ws)
    before = workers(nginx.pid)
    nginx.send_signal(signal.SIGHUP)
    confirm_reload(nginx.pid, before, str(tmp_path))
    reloaded = time.monotonic()
    pong(ws)  # the same connection, on the old worker, after the new workers took over
    closed_after(ws, 10)
    closed = time.monotonic() - reloaded
    assert 2 <= closed <= 3 + 3, f"closed {closed:.1f} s after the reload (worker_shutdown_timeout 3 s)"


# ------------------------------------------------------------------ a redeploy under load


def nginx_failures(log_dir: Path) -> tuple[list[str], list[str]]:
    """(access log lines answered 5xx, error log lines where nginx could not reach an instance)."""
    access = (log_dir / "access.log").read_text().splitlines()
    errors = (log_dir / "error.log").read_text().splitlines()
    return ([line for line in access if re.search(r'" 5\d\d ', line)],
            [line for line in errors if UPSTREAM_FAILURE.search(line)])


@pytest.mark.integration
def test_a_redeploy_under_load_refuses_nothing_and_serves_every_client_again(local: LocalDeployment) -> None:
    proxy = {"worker_shutdown_timeout": SHUTDOWN_TIMEOUT}
    first = local.deploy(profile=local.write(proxy=proxy))
    assert first.returncode == 0, first.stdout + first.stderr
    port = local.data["site"]["https_port"]
    fleet = RunningFleet(Fleet(f"wss://localhost:{port}/socket.io/?EIO=4&transport=websocket", local.https_url,
                               CLIENTS, delay=(0.25, 2.0))).start()
    try:
        assert fleet.wait_connected(30), f"{fleet.tally.connected_now} of {CLIENTS} connected"
        started = time.monotonic()
        result = local.deploy(profile=local.write(proxy=proxy, socketio={"ping_interval": 20}))
        deploy_s = time.monotonic() - started
        assert result.returncode == 0, result.stdout + result.stderr
        # Old nginx workers close what they still hold at worker_shutdown_timeout: those clients move too.
        time.sleep(SHUTDOWN_TIMEOUT + 1)
        tally = fleet.tally
        assert fleet.wait_connected(15), f"{tally.connected_now} of {CLIENTS} connected again"
        deadline = time.monotonic() + 10
        while len(tally.served_again_s) < tally.outages and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        tally = fleet.stop()
    ports = current_release(local.layout).model["server"]["ports"]
    assert all(f"instance-{p} drained: nginx sends it no new connection" in said(result) for p in ports), result.stdout
    served = sorted(tally.served_again_s)
    print(f"\n{CLIENTS} clients, deploy {deploy_s:.1f} s: {tally.attempts} connection attempts, failures "
          f"{dict(tally.failures)}, disconnects {dict(tally.disconnects)}, served again p50 "
          f"{served[len(served) // 2]:.2f} s, max {served[-1]:.2f} s; load client CPU {fleet.cpu_s:.1f} s")
    assert not tally.failures, f"connection attempts that failed: {dict(tally.failures)}"
    assert set(tally.disconnects) == {"transport close"}, tally.disconnects
    assert tally.disconnects.total() >= CLIENTS  # each client's instance restarted under it
    assert len(served) == tally.outages, "a client was not served again after a disconnect"
    assert served[-1] <= SERVED_AGAIN_WITHIN, f"a client waited {served[-1]:.1f} s to be served again"
    answered_5xx, unreachable = nginx_failures(Path(current_release(local.layout).model["proxy"]["log_dir"]))
    assert not answered_5xx, answered_5xx[:5]
    assert not unreachable, unreachable[:5]


@pytest.mark.integration
def test_an_nginx_an_older_swarmdeploy_started_is_restarted_once_then_restarts_drain(local: LocalDeployment) -> None:
    """Before drained restarts, the process manager's nginx read `current/nginx/nginx.conf`: a reload of it
    would never see a drained site."""
    assert local.deploy().returncode == 0
    manager, release = ProcessManager(local.layout), current_release(local.layout)
    service = nginx_service(release, local.layout.current, local.layout.run)
    legacy = nginx_argv("nginx", local.layout.run / "nginx", local.layout.current / "nginx" / "nginx.conf",
                        local.layout.run / "nginx" / "startup-error.log")
    manager._halt("nginx")
    manager._start(dataclasses.replace(service, argv=[*legacy, "-g", "daemon off;"]))
    port = release.model["server"]["ports"][0]

    result = run("restart", f"instance-{port}", "--root", str(local.root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nginx restarted: it read its configuration from where an older swarmdeploy put it" in said(result)
    assert f"instance-{port} drained" in said(result)
    title = Path(f"/proc/{manager.main_pid('nginx')}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    assert " ".join(service.argv) in title
