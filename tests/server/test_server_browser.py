"""A real browser opens the status page through nginx rendered by swarmdeploy (TLS, sticky
upstream, two instances on a Redis queue): WebSocket when the proxy forwards Upgrade,
polling when it does not."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from host_render import make_certificate
from server_stack import (
    Stack, Supervisor, free_ports, http_json, start_instances, start_nginx, start_redis, write_profile,
)

from conftest import require_file, require_module, require_tool

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--disable-dev-shm-usage", "--host-resolver-rules=MAP localhost 127.0.0.1"]
SOCKET_PATH = "/live/socket.io"
GRADES = {"Excellent", "Good", "Fair", "Poor"}
PAGE_TIMEOUT_MS = 20_000


@dataclass
class Site:
    stack: Stack
    upgrade_url: str  # nginx as rendered
    no_upgrade_url: str  # the same site without the Upgrade/Connection headers


def _without_upgrade_headers(site: str) -> str:
    kept = [line for line in site.splitlines()
            if not re.match(r"\s*proxy_set_header (Upgrade|Connection) ", line)]
    assert len(kept) == len(site.splitlines()) - 2
    return "\n".join(kept) + "\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    for tool in ("nginx", "redis-server", "gunicorn", "openssl"):
        require_tool(tool)
    workdir = tmp_path_factory.mktemp("browser")
    supervisor = Supervisor(workdir)
    try:
        cert, key = make_certificate(workdir, ["localhost"])
        https_port, other_https, http_port, other_http = (free_ports(1) for _ in range(4))
        profile = write_profile(
            workdir, instances=2, message_queue=start_redis(supervisor),
            server={"publish_token_env": "PUBLISH_TOKEN"},
            socketio={"path": SOCKET_PATH,
                      "cors_allowed_origins": [f"https://localhost:{https_port}", f"https://localhost:{other_https}"]},
            site={"https_port": https_port, "http_port": http_port},
            tls={"profile": "intermediate", "certificate": str(cert), "certificate_key": str(key)},
        )
        stack = start_instances(supervisor, profile, extra_env={"PUBLISH_TOKEN": "pt"})
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
        yield Site(stack, *urls)
    finally:
        supervisor.stop_all()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    require_file(CHROMIUM)
    sync_api = require_module("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(ignore_https_errors=True)  # self-signed test certificate
    yield context.new_page()
    context.close()


def _state(page) -> dict:
    return page.evaluate("""() => ({connected: window.wsConnected, transport: window.wsTransport,
        latency: window.wsLatency, grade: window.wsGrade, reconnects: window.wsReconnectAttempts,
        queued: window.wsQueuedEvents, received: window.wsEventsReceived, socket: !!window.swarmSocket,
        indicator: document.getElementById('indicator').className})""")


def test_status_page_connects_over_websocket_through_nginx(site, page):
    page.goto(f"{site.upgrade_url}/?room=ops", timeout=PAGE_TIMEOUT_MS)
    page.wait_for_function("() => window.wsConnected && window.wsTransport === 'websocket' && window.wsGrade !== null",
                           timeout=PAGE_TIMEOUT_MS)
    state = _state(page)
    assert state["grade"] in GRADES and 0 <= state["latency"] < 1000
    assert state["socket"] and state["indicator"] == "dot green"
    assert state["reconnects"] == 0 and state["queued"] == 0
    assert page.text_content("#transport") == "websocket"

    # A publish on either instance reaches the page through Redis and the sticky upstream.
    for instance in site.stack.instances:
        http_json(f"{instance.url}/api/publish", headers={"Authorization": "Bearer pt"},
                  data={"room": "ops", "data": instance.port})
    page.wait_for_function("() => window.wsEventsReceived === 2", timeout=PAGE_TIMEOUT_MS)
    # Chromium asks for /favicon.ico right after the load unless the page names an icon; Playwright
    # does not show that request, nginx's access log does.
    access_log = (site.stack.profile.parent / "access.log").read_text()
    assert "/favicon.ico" not in access_log


def test_without_upgrade_headers_the_page_falls_back_to_polling(site, page):
    page.goto(f"{site.no_upgrade_url}/", timeout=PAGE_TIMEOUT_MS)
    page.wait_for_function("() => window.wsConnected && window.wsTransport === 'polling' && window.wsGrade !== null",
                           timeout=PAGE_TIMEOUT_MS)
    page.wait_for_timeout(3000)  # long enough for any upgrade attempt to have succeeded
    state = _state(page)
    assert state["connected"] and state["transport"] == "polling" and state["grade"] in GRADES
    assert page.text_content("#transport") == "polling"
