"""A real browser opens the status page through nginx rendered by swarmdeploy (browser_stack.py): WebSocket
when the proxy forwards Upgrade, polling when it does not; each emergency button and its effect, the latency
chart's data and pixels, the instances list, the troubleshooting guide's console snippets, a screenshot."""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest
from browser_stack import (
    PAGE_TIMEOUT_MS,
    TOKEN,
    Publisher,
    open_page,
    publish,
    room_data,
)

pytest_plugins = ["browser_stack"]  # its fixtures: site, browser, page (one stack and one Chromium per module)
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("status-page")]  # one stack, one Chromium

GRADES = {"Excellent", "Good", "Fair", "Poor"}
SCREENSHOT_ENV = "SWARMDEPLOY_STATUS_SCREENSHOT"  # docs/status-page.md: where to keep the screenshot
SCREENSHOT_SECONDS = 60


def _state(page) -> dict:
    return page.evaluate("""() => ({connected: window.wsConnected, transport: window.wsTransport,
        latency: window.wsLatency, grade: window.wsGrade, reconnects: window.wsReconnectAttempts,
        queued: window.wsQueuedEvents, received: window.wsEventsReceived, socket: !!window.swarmSocket,
        indicator: document.getElementById('indicator').className})""")


def test_status_page_connects_over_websocket_through_nginx(site, page):
    open_page(page, f"{site.upgrade_url}/?room=ops")
    state = _state(page)
    assert state["grade"] in GRADES and 0 <= state["latency"] < 1000
    assert state["socket"] and state["indicator"] == "dot green"
    assert state["reconnects"] == 0 and state["queued"] == 0
    assert page.text_content("#transport") == "websocket"

    # A publish on either instance reaches the page through Redis and the sticky upstream.
    for instance in site.stack.instances:
        publish(instance.url, "ops", instance.port)
    page.wait_for_function("() => window.wsEventsReceived === 2", timeout=PAGE_TIMEOUT_MS)
    assert sorted(room_data(page, "ops")) == sorted(i.port for i in site.stack.instances)
    # Chromium asks for /favicon.ico right after the load unless the page names an icon; Playwright
    # does not show that request, nginx's access log does.
    access_log = (site.stack.profile.parent / "access.log").read_text()
    assert "/favicon.ico" not in access_log


def test_without_upgrade_headers_the_page_falls_back_to_polling(site, page):
    open_page(page, f"{site.no_upgrade_url}/", transport="polling")
    page.wait_for_timeout(3000)  # long enough for any upgrade attempt to have succeeded
    state = _state(page)
    assert state["connected"] and state["transport"] == "polling" and state["grade"] in GRADES
    assert page.text_content("#transport") == "polling"
    assert page.text_content("#upgrade") == "failed: websocket did not open, fell back to polling"


def test_force_polling_button_reconnects_over_polling_and_back(site, page):
    open_page(page, f"{site.upgrade_url}/")
    page.click("#force-polling")
    page.wait_for_function("() => window.wsConnected && window.swarmSocket.io.engine.transport.name === 'polling'",
                           timeout=PAGE_TIMEOUT_MS)
    page.wait_for_timeout(3000)  # with WebSocket allowed, the upgrade probe would have finished by now
    assert page.evaluate("() => [window.wsTransport, window.swarmSocket.io.engine.transport.name]") == ["polling"] * 2
    assert page.evaluate("() => window.swarmSocket.io.engine.transports") == ["polling"]
    assert page.text_content("#upgrade") == "off: polling forced"
    assert page.text_content("#transport") == "polling"
    assert page.text_content("#force-polling").startswith("Back to")

    page.click("#force-polling")
    page.wait_for_function("() => window.wsConnected && window.wsTransport === 'websocket'", timeout=PAGE_TIMEOUT_MS)
    assert page.text_content("#force-polling") == "Force polling"


def test_reset_button_reconnects_with_a_new_session(site, page):
    open_page(page, f"{site.upgrade_url}/")
    first = page.evaluate("() => window.swarmSocket.id")
    page.click("#reset")
    page.wait_for_function("() => !window.wsConnected", timeout=PAGE_TIMEOUT_MS)
    page.wait_for_function("(first) => window.wsConnected && window.swarmSocket.id !== first", arg=first,
                           timeout=PAGE_TIMEOUT_MS)
    assert page.evaluate("() => [window.wsReconnects, window.wsReconnectAttempts]") == [1, 0]
    page.wait_for_function("() => document.getElementById('reconnects').textContent === '1'", timeout=PAGE_TIMEOUT_MS)


def test_clear_queued_events_button_drops_what_would_be_sent(site, page):
    open_page(page, f"{site.upgrade_url}/?room=queue")
    page.wait_for_function("() => window.swarmFeed.position('queue').seq !== null", timeout=PAGE_TIMEOUT_MS)
    head = page.evaluate("() => window.swarmFeed.position('queue').seq")
    # Publishes made while disconnected wait in the client's buffer and would go out on reconnect.
    page.evaluate("""(token) => { window.swarmSocket.disconnect();
        for (let i = 0; i < 3; i++) window.swarmSocket.emit('publish', {room: 'queue', data: 'queued-' + i, token}); }""",
                  TOKEN)
    page.wait_for_function("() => document.getElementById('queued').textContent === '3'", timeout=PAGE_TIMEOUT_MS)
    page.click("#clear-queue")
    assert page.evaluate("() => [window.wsQueuedEvents, window.swarmSocket.sendBuffer.length]") == [0, 0]
    assert page.text_content("#queued") == "0"

    page.evaluate("() => window.swarmSocket.connect()")
    page.wait_for_function("() => window.wsConnected", timeout=PAGE_TIMEOUT_MS)
    marker = publish(site.stack.instances[0].url, "queue", "marker")
    page.wait_for_function("() => window.swarmEvents.some((e) => e.data === 'marker')", timeout=PAGE_TIMEOUT_MS)
    assert marker["seq"] == head + 1  # nothing queued reached the server
    assert room_data(page, "queue") == ["marker"]


def test_latency_chart_plots_round_trips_over_the_bands(site, page):
    open_page(page, f"{site.upgrade_url}/")
    page.wait_for_function("() => window.swarmChart.points.length >= 3", timeout=PAGE_TIMEOUT_MS)
    chart = page.evaluate("""() => {
        const chart = window.swarmChart, canvas = document.getElementById('chart');
        const now = Date.now();
        chart.draw(now);
        const d = chart.drawn, ratio = canvas.width / canvas.clientWidth, ctx = canvas.getContext('2d');
        const pixel = (x, y) => Array.from(ctx.getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data);
        const plotH = d.plot.bottom - d.plot.top, span = chart.windowSeconds * 1000;
        const yOf = (ms) => d.plot.bottom - Math.min(ms, d.top) / d.top * plotH;
        const last = chart.points[chart.points.length - 1];
        return {drawn: d, points: chart.points, latency: window.wsLatency,
            // Inside the plot's left edge (five minutes ago: no points there), mid-height of each band.
            bandPixels: d.bands.map((band, i) => pixel(d.plot.left + 3, (band.y + (i ? d.bands[i - 1].y : d.plot.bottom)) / 2)),
            pointPixel: pixel(d.plot.left + (last.t - (now - span)) / span * (d.plot.right - d.plot.left), yOf(last.ms)),
            lastY: yOf(last.ms)};
    }""")
    points = chart["points"]
    assert all(0 < p["ms"] < 1000 for p in points)
    assert [p["t"] for p in points] == sorted(p["t"] for p in points)
    assert points[-1]["ms"] == chart["latency"]
    drawn = chart["drawn"]
    assert [band["below"] for band in drawn["bands"]] == [50, 150, 300, None]
    plot = drawn["plot"]
    height = plot["bottom"] - plot["top"]
    for band in drawn["bands"][:3]:  # each boundary at its share of the axis
        assert band["y"] == pytest.approx(plot["bottom"] - band["below"] / drawn["top"] * height, abs=0.01)
    for band, rgba in zip(drawn["bands"], chart["bandPixels"], strict=True):
        assert rgba[:3] == [int(band["fill"][i:i + 2], 16) for i in (1, 3, 5)], band
    assert chart["pointPixel"][:3] == [0x09, 0x69, 0xDA]  # the latest round trip is drawn where it belongs


def test_instances_lists_every_instance_without_private_details(site, page):
    open_page(page, f"{site.upgrade_url}/")
    ports = sorted(instance.port for instance in site.stack.instances)
    page.wait_for_function("(n) => document.querySelectorAll('#instances tbody tr').length === n", arg=len(ports),
                           timeout=PAGE_TIMEOUT_MS)
    rows = page.evaluate("""() => Array.from(document.querySelectorAll('#instances tbody tr'),
        (row) => Array.from(row.cells, (cell) => cell.textContent))""")
    assert sorted(int(row[1]) for row in rows) == ports
    assert all(row[2] == "ok" and row[4].startswith("reachable, listener ") for row in rows), rows
    assert sum(row[0].endswith(" (answered)") for row in rows) == 1, rows
    # The page's own instance (the pong names it) has a client, so its queue listener runs.
    mine = page.text_content("#instance").rsplit(":", 1)[1]
    assert [row[4] for row in rows if row[1] == mine] == ["reachable, listener subscribed"], rows

    raw = page.evaluate("() => fetch('/api/instances').then((r) => r.text())")
    answer = json.loads(raw)
    assert answer["complete"] is True
    assert sorted(i["port"] for i in answer["instances"]) == ports
    assert sum(i["clients"] for i in answer["instances"]) >= 1 and sum(i["self"] for i in answer["instances"]) == 1
    assert {key for i in answer["instances"] for key in i} == {
        "id", "port", "status", "clients", "queue", "uptime", "age", "silent", "self"}
    pids = {instance.process.pid for instance in site.stack.instances}
    numbers = [value for i in answer["instances"] for value in i.values() if isinstance(value, int)]
    assert not pids & set(numbers)
    for secret in (os.uname().nodename, site.stack.model["name"] + "@", TOKEN, site.redis_url, "127.0.0.1"):
        assert secret not in raw, secret


# The guide's snippets verbatim, with its leading comment (Playwright would take a text that starts with
# `function` for a function to call).
STATUS_SNIPPET = """// Browser console
if (window.swarmSocket) {
    console.log('Connected:', window.swarmSocket.connected);
    console.log('Transport:', window.swarmSocket.io.engine.transport.name);
    console.log('Latency:', window.wsLatency + 'ms');
}"""
QUALITY_SNIPPET = """// Browser console
function checkConnectionQuality() {
    const start = Date.now();
    window.swarmSocket.emit('ping', { timestamp: start });
    window.swarmSocket.once('pong', (data) => {
        const latency = Date.now() - start;
        console.log(`Latency: ${latency}ms`);
        if (latency < 50) { console.log('Connection: Excellent'); }
        else if (latency < 150) { console.log('Connection: Good'); }
        else if (latency < 300) { console.log('Connection: Fair'); }
        else { console.log('Connection: Poor'); }
    });
}
checkConnectionQuality();"""
FORCE_POLLING_SNIPPET = """// Browser console
window.swarmSocket.io.opts.transports = ['polling'];
window.swarmSocket.disconnect();
window.swarmSocket.connect();"""
CLEAR_QUEUE_SNIPPET = """// Browser console
window.wsQueuedEvents = [];
console.log('Event queue cleared');"""
RESET_SNIPPET = """// Browser console
window.swarmSocket.disconnect();
window.wsReconnectAttempts = 0;
setTimeout(() => {
    window.swarmSocket.connect();
}, 1000);"""


def test_console_snippets_from_the_troubleshooting_guide(site, page):
    """The guide's snippets, as an operator pastes them (its "Browser console" sections)."""
    logged: list[str] = []
    page.on("console", lambda message: logged.append(message.text))
    open_page(page, f"{site.upgrade_url}/")
    page.evaluate(STATUS_SNIPPET)
    # The sync API delivers console messages only while it waits on the browser: wait for this one.
    with page.expect_console_message(lambda message: message.text.startswith("Connection: "), timeout=PAGE_TIMEOUT_MS):
        page.evaluate(QUALITY_SNIPPET)
    assert {"Connected: true", "Transport: websocket"} <= set(logged)
    assert any(re.fullmatch(r"Latency: \d+(\.\d+)?ms", line) for line in logged), logged
    assert any(line in {f"Connection: {grade}" for grade in GRADES} for line in logged), logged

    page.evaluate(FORCE_POLLING_SNIPPET)
    page.wait_for_function("() => window.wsConnected && window.wsTransport === 'polling'", timeout=PAGE_TIMEOUT_MS)
    assert page.text_content("#upgrade") == "off: polling only"

    page.evaluate("() => { window.swarmSocket.disconnect(); window.swarmSocket.emit('publish', {room: 'x'}); }")
    assert page.evaluate("() => window.wsQueuedEvents") == 1
    page.evaluate(CLEAR_QUEUE_SNIPPET)
    assert page.evaluate("() => window.wsQueuedEvents") == 0 and "Event queue cleared" in logged

    page.evaluate("() => window.swarmSocket.connect()")
    page.wait_for_function("() => window.wsConnected", timeout=PAGE_TIMEOUT_MS)
    first = page.evaluate("() => window.swarmSocket.id")
    page.evaluate(RESET_SNIPPET)
    page.wait_for_function("(first) => window.wsConnected && window.swarmSocket.id !== first", arg=first,
                           timeout=PAGE_TIMEOUT_MS)
    assert page.evaluate("() => window.wsReconnectAttempts") == 0


def test_screenshot_of_a_live_page(site, page, tmp_path):
    """The page with data in every part; kept in docs/ when SWARMDEPLOY_STATUS_SCREENSHOT names the file."""
    page.set_viewport_size({"width": 1280, "height": 1000})
    open_page(page, f"{site.upgrade_url}/?room=dashboard")
    page.wait_for_function("() => window.swarmFeed.position('dashboard').seq !== null", timeout=PAGE_TIMEOUT_MS)
    for n in range(5):
        publish(site.stack.instances[n % 2].url, "dashboard", {"deploy": n, "status": "ok"})
    page.wait_for_function("() => window.swarmChart.points.length >= 6 && window.wsEventsReceived >= 5 "
                           "&& document.querySelectorAll('#instances tbody tr').length === 2", timeout=PAGE_TIMEOUT_MS)
    if os.environ.get(SCREENSHOT_ENV):  # for the docs: a minute of chart and a steady event rate
        publisher = Publisher([instance.url for instance in site.stack.instances], "dashboard", every=0.5)
        page.wait_for_timeout(SCREENSHOT_SECONDS * 1000)
        publisher.stop()
    shot = tmp_path / "status-page.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000
    if os.environ.get(SCREENSHOT_ENV):
        shutil.copyfile(shot, os.environ[SCREENSHOT_ENV])
