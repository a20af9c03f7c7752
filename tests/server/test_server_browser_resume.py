"""Resume in the browser: the status page, through nginx, ends with every event of its room exactly once and
in order when its transport is closed under a steady publisher, when its instance dies, and says `resync`
when the gap is past the history bound (swarm-resume.js; protocol in docs/resume.md)."""

from __future__ import annotations

import pytest
from browser_stack import (
    HISTORY_LIMIT,
    PAGE_TIMEOUT_MS,
    Publisher,
    open_page,
    publish,
    restart_instance,
    room_data,
)

pytest_plugins = ["browser_stack"]  # its fixtures: site, browser, page (one stack and one Chromium per module)
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("status-page-resume")]  # one stack, one Chromium


def test_resume_across_cut_connections_delivers_every_event_once_in_order(site, page):
    open_page(page, f"{site.upgrade_url}/?room=feed")
    page.wait_for_function("() => window.swarmFeed.position('feed').seq !== null", timeout=PAGE_TIMEOUT_MS)
    page.evaluate("""() => { window.replayed = 0;
        window.swarmSocket.on('batch', (m) => { if (m.replay) window.replayed += m.events.length; }); }""")
    publisher = Publisher([instance.url for instance in site.stack.instances], "feed")
    for cut in (1, 2):
        page.wait_for_timeout(1000)
        page.evaluate("() => window.swarmSocket.io.engine.close()")  # the guide's way to drop the transport
        page.wait_for_function("(n) => window.wsConnected && window.wsReconnects === n", arg=cut, timeout=PAGE_TIMEOUT_MS)
    page.wait_for_timeout(1000)
    sent = publisher.stop()
    page.wait_for_function("(n) => window.swarmFeed.position('feed').seq >= n", arg=len(sent), timeout=PAGE_TIMEOUT_MS)
    assert room_data(page, "feed") == sent
    # The reconnect backoff (>= 0.5 s) at 20 events/s leaves events that only a replay can deliver.
    assert page.evaluate("() => [window.replayed > 0, window.wsResyncs, window.swarmFeed.position('feed').pending]") \
        == [True, 0, 0]


def test_resume_when_the_page_s_instance_dies(site, page):
    open_page(page, f"{site.upgrade_url}/?room=failover")
    page.wait_for_function("() => window.swarmFeed.position('failover').seq !== null", timeout=PAGE_TIMEOUT_MS)
    # The pong names the instance (name@host:port): the page's, through the sticky upstream.
    port = int(page.text_content("#instance").rsplit(":", 1)[1])
    dying = next(i for i in site.stack.instances if i.port == port)
    survivor = next(i for i in site.stack.instances if i.port != port)
    before = [publish(dying.url, "failover", n)["seq"] for n in range(3)]
    site.supervisor.stop(dying.process)
    during = [publish(survivor.url, "failover", n)["seq"] for n in range(3, 13)]
    page.wait_for_function("() => window.wsConnected && window.wsReconnects === 1", timeout=PAGE_TIMEOUT_MS)
    after = [publish(survivor.url, "failover", n)["seq"] for n in range(13, 16)]
    page.wait_for_function("() => window.swarmFeed.position('failover').seq >= 16", timeout=PAGE_TIMEOUT_MS)
    assert room_data(page, "failover") == list(range(16))
    assert before + during + after == list(range(1, 17))
    assert int(page.text_content("#instance").rsplit(":", 1)[1]) == survivor.port
    # The deployment table marks the dead instance once its reports stop (6 s, refreshed every 5 s).
    page.wait_for_function("""(port) => Array.from(document.querySelectorAll('#instances tbody tr')).some(
        (row) => row.cells[1].textContent === String(port) && row.cells[2].textContent === 'silent')""",
                           arg=dying.port, timeout=PAGE_TIMEOUT_MS)
    restart_instance(site, dying)


def test_a_gap_past_the_history_bound_is_a_resync_on_the_page(site, page):
    open_page(page, f"{site.upgrade_url}/?room=bounded")
    page.wait_for_function("() => window.swarmFeed.position('bounded').seq !== null", timeout=PAGE_TIMEOUT_MS)
    # Away for good while more events than history holds are published; then the page comes back.
    page.evaluate("() => { window.swarmSocket.io.reconnection(false); window.swarmSocket.io.engine.close(); }")
    page.wait_for_function("() => !window.wsConnected", timeout=PAGE_TIMEOUT_MS)
    count = HISTORY_LIMIT + 50
    for n in range(count):
        publish(site.stack.instances[n % 2].url, "bounded", n)
    page.evaluate("() => { window.swarmSocket.io.reconnection(true); window.swarmSocket.connect(); }")
    page.wait_for_function("(n) => window.swarmFeed.position('bounded').seq === n", arg=count, timeout=PAGE_TIMEOUT_MS)
    # The oldest 50 were pushed out: said once, then the retained ones, in order, none twice.
    assert page.evaluate("() => window.wsResyncs") == 1
    assert page.text_content("#resyncs") == "1"
    assert page.text_content("#resync").startswith("events 1-50 of bounded were no longer in history")
    assert room_data(page, "bounded") == list(range(50, count))
