"""The status page's test stack: two instances on a Redis queue behind the nginx swarmdeploy renders (TLS,
sticky upstream), a second nginx without the Upgrade headers, headless Chromium, and a publisher."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import require_file, require_module, require_tool
from host_render import make_certificate
from server_stack import (
    Instance,
    Stack,
    Supervisor,
    free_ports,
    http_json,
    start_instances,
    start_nginx,
    start_redis,
    unit_command,
    unit_environment,
    wait_until,
    write_profile,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--disable-dev-shm-usage", "--host-resolver-rules=MAP localhost 127.0.0.1"]
SOCKET_PATH = "/live/socket.io"
PAGE_TIMEOUT_MS = 20_000
TOKEN = "publish-secret-5c1e9b"  # distinctive, so a leak into an answer is found by a substring search
HISTORY_LIMIT = 200  # events kept over all rooms: small, so a resync test outruns it quickly


@dataclass
class Site:
    stack: Stack
    supervisor: Supervisor
    redis_url: str
    upgrade_url: str  # nginx as rendered
    no_upgrade_url: str  # the same site without the Upgrade/Connection headers


def _without_upgrade_headers(site: str) -> str:
    kept = [line for line in site.splitlines()
            if not re.match(r"\s*proxy_set_header (Upgrade|Connection) ", line)]
    assert len(kept) == len(site.splitlines()) - 2
    return "\n".join(kept) + "\n"


# The fixtures below are imported by the browser test modules: one stack and one Chromium per module.
@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The stack: instances on Redis behind the rendered nginx, and a second nginx without Upgrade headers."""
    for tool in ("nginx", "redis-server", "gunicorn", "openssl"):
        require_tool(tool)
    workdir = tmp_path_factory.mktemp("browser")
    supervisor = Supervisor(workdir)
    try:
        cert, key = make_certificate(workdir, ["localhost"])
        https_port, other_https, http_port, other_http = (free_ports(1) for _ in range(4))
        redis_url = start_redis(supervisor)
        profile = write_profile(
            workdir, instances=2, message_queue=redis_url,
            server={"publish_token_env": "PUBLISH_TOKEN"},
            socketio={"path": SOCKET_PATH, "history_limit": HISTORY_LIMIT,
                      "cors_allowed_origins": [f"https://localhost:{https_port}", f"https://localhost:{other_https}"]},
            site={"https_port": https_port, "http_port": http_port},
            tls={"profile": "intermediate", "certificate": str(cert), "certificate_key": str(key)},
        )
        stack = start_instances(supervisor, profile, extra_env={"PUBLISH_TOKEN": TOKEN})
        name = stack.model["name"]
        start_nginx(supervisor, workdir / "nginx-upgrade", stack.files, name)
        # Second nginx: other ports and pid file, and no Upgrade/Connection headers.
        other = dict(stack.files)
        other["nginx/nginx.conf"] = other["nginx/nginx.conf"].replace("nginx.pid", "nginx-other.pid")
        other[f"nginx/{name}.conf"] = (other[f"nginx/{name}.conf"]
                                       .replace(f"listen {https_port} ", f"listen {other_https} ")
                                       .replace(f"listen {http_port};", f"listen {other_http};"))
        start_nginx(supervisor, workdir / "nginx-no-upgrade", other, name, edit_site=_without_upgrade_headers)
        urls = [f"https://localhost:{port}" for port in (https_port, other_https)]
        yield Site(stack, supervisor, redis_url, *urls)
    finally:
        supervisor.stop_all()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Debian's Chromium through Playwright (never `playwright install`)."""
    require_file(CHROMIUM)
    sync_api = require_module("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator:
    """A page in its own context, closed afterwards."""
    context = browser.new_context(ignore_https_errors=True)  # self-signed test certificate
    yield context.new_page()
    context.close()


def open_page(page, url: str, transport: str = "websocket") -> None:
    page.goto(url, timeout=PAGE_TIMEOUT_MS)
    page.wait_for_function(f"() => window.wsConnected && window.wsTransport === '{transport}' && window.wsGrade !== null",
                           timeout=PAGE_TIMEOUT_MS)


def _state(page) -> dict:
    return page.evaluate("""() => ({connected: window.wsConnected, transport: window.wsTransport,
        latency: window.wsLatency, grade: window.wsGrade, reconnects: window.wsReconnectAttempts,
        queued: window.wsQueuedEvents, received: window.wsEventsReceived, socket: !!window.swarmSocket,
        indicator: document.getElementById('indicator').className})""")


def publish(instance_url: str, room: str, data: object) -> dict:
    return http_json(f"{instance_url}/api/publish", headers={"Authorization": f"Bearer {TOKEN}"},
                     data={"room": room, "data": data})


def room_data(page, room: str) -> list:
    return page.evaluate("(room) => window.swarmEvents.filter((e) => e.room === room).map((e) => e.data)", room)


@dataclass
class Publisher:
    """Publishes 0, 1, 2, ... to a room, alternating between instances, until stopped (a real publisher
    whose events reach the page through Redis from both sides)."""

    urls: list[str]
    room: str
    every: float = 0.05
    sent: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            value = len(self.sent)
            try:
                publish(self.urls[value % len(self.urls)], self.room, value)
                self.sent.append(value)
            except OSError as error:
                self.errors.append(str(error))
                return
            self._stop.wait(self.every)

    def stop(self) -> list[int]:
        self._stop.set()
        self._thread.join(10)
        assert not self.errors, self.errors
        return self.sent


def restart_instance(site: Site, instance: Instance) -> None:
    """Back as its unit runs it, so the module's other tests see both instances again."""
    files, name = site.stack.files, site.stack.model["name"]
    env = {**unit_environment(files, name, instance.port), "PUBLISH_TOKEN": TOKEN}
    instance.process = site.supervisor.start(unit_command(files, name, instance.port), env, label=instance.label)
    wait_until(instance.health, 20.0, f"instance on port {instance.port}", instance.process,
               lambda: site.supervisor.log(instance.label))
