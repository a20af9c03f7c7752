"""Headless Chromium (Debian's, driven by Playwright) loads the status page and must end up on
the websocket transport with a latency grade, as a user's browser would."""

from __future__ import annotations

from pathlib import Path

from swarmdeploy.verify.result import Observation, Status
from swarmdeploy.verify.target import Target

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-dev-shm-usage", "--disable-gpu"]
STATE = "() => ({connected: window.wsConnected, transport: window.wsTransport, grade: window.wsGrade, " \
        "latency: window.wsLatency, error: window.wsLastError})"


def run(target: Target) -> list[Observation]:
    if not target.browser:
        return [Observation("browser", Status.SKIP, "not run: pass --browser")]
    if not CHROMIUM.exists():
        return [Observation("browser", Status.FAIL, f"{CHROMIUM} is missing", "apt-get install chromium")]
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        # Chromium resolves the URL's host itself; --address maps it as the other checks connect.
        resolve = [f"--host-resolver-rules=MAP {target.hostname} {target.address}"] if target.address else []
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + resolve)
        try:
            # Chromium ignores the system CA store and --ca-file; the tls check has judged the chain.
            page = browser.new_page(ignore_https_errors=True)
            page.goto(f"{target.base}/", timeout=target.timeout * 2000)
            try:
                page.wait_for_function("() => window.wsConnected && window.wsGrade", timeout=target.timeout * 2000)
            except Error:
                pass
            state = page.evaluate(STATE)
        finally:
            browser.close()
    saw = (f"connected={state['connected']} transport={state['transport']} grade={state['grade']}"
           + (f" error={state['error']}" if state["error"] else ""))
    if state["connected"] and state["transport"] == "websocket":
        return [Observation("status page", Status.PASS, saw)]
    if state["connected"]:
        return [Observation("status page", Status.FAIL, saw + " (fell back to polling)",
                            "the browser could not upgrade: see the websocket check's fix")]
    return [Observation("status page", Status.FAIL, saw, "open the page's console; see the checks above")]
