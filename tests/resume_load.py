"""The two load processes of tests/test_resume.py (the publisher also serves benchmarks/redeploy_under_load.py).

    clients URL ROOM --count N --out FILE --ready FILE   N asyncio clients, each the ResumingClient of
                                                          docs/resume.md, until each has the end marker
    publish ROOM --urls URL,URL --out FILE --stop FILE   an event every 1/--rate s, round-robin over the
                                                          instances, until FILE exists; then the end marker

Each writes one JSON file. The clients' example code is loaded from docs/resume.md, so the documented
client is the one under test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import ssl
import sys
import time
import types
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "docs" / "resume.md"
END = "end"  # the publisher's last event's data
CONNECTS_AT_ONCE = 50
PUBLISH_TIMEOUT = 2.0


def load_example() -> dict[str, Any]:
    """The names docs/resume.md's tested example defines (ResumingClient, ...)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    match = re.search(r"<!-- tested: tests/test_resume.py -->\s*```python\n(.*?)```", text, re.DOTALL)
    if match is None:
        raise LookupError(f"{EXAMPLE} has no python block after <!-- tested: tests/test_resume.py -->")
    # A registered module, as an import makes it: dataclasses look their module up in sys.modules.
    module = sys.modules["resume_example"] = types.ModuleType("resume_example")
    exec(compile(match.group(1), str(EXAMPLE), "exec"), module.__dict__)  # noqa: S102 - our own documentation
    return module.__dict__


class Recorder:
    """One client: what it delivered, and how long each reconnect took."""

    def __init__(self, example: dict[str, Any], **options: Any) -> None:
        recorder = self

        class Observed(example["ResumingClient"]):
            def _connected(self) -> None:
                recorder.connected()
                super()._connected()

        self.client = Observed(self.event, self.resyncs_append, **options)
        self.client.sio.on("disconnect", self.lost)
        self.delivered: list[list[Any]] = []  # [epoch, seq, data]
        self.resyncs: list[dict[str, Any]] = []
        self.reconnect_seconds: list[float] = []  # disconnect -> connected again
        self.back_seconds: list[float] = []  # disconnect -> the next event delivered (caught up and live)
        self.done = asyncio.Event()
        self._lost_at: float | None = None
        self._waiting_for_event_since: float | None = None

    def resyncs_append(self, gap: dict[str, Any]) -> None:
        self.resyncs.append(gap)

    def event(self, event: dict[str, Any]) -> None:
        self.delivered.append([event["epoch"], event["seq"], event["data"]])
        if self._waiting_for_event_since is not None:
            self.back_seconds.append(time.monotonic() - self._waiting_for_event_since)
            self._waiting_for_event_since = None
        if event["data"] == END:
            self.done.set()

    def lost(self, *_reason: Any) -> None:
        self._lost_at = time.monotonic()

    def connected(self) -> None:
        if self._lost_at is not None:
            self.reconnect_seconds.append(time.monotonic() - self._lost_at)
            self._waiting_for_event_since, self._lost_at = self._lost_at, None

    def result(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "resyncs": self.resyncs, "reconnect_seconds": self.reconnect_seconds,
                "back_seconds": self.back_seconds}


async def run_clients(args: argparse.Namespace) -> dict[str, Any]:
    example = load_example()
    # One session and one TLS context for all: with ssl_verify=False python-engineio builds a context (loading
    # the system CA store) per connect, which made 200 reconnects take seconds of CPU. limit=0: each WebSocket
    # holds a connection for good.
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the deployment's self-signed certificate
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context, limit=0))
    options = {"http_session": session, "reconnection_delay": 0.5, "reconnection_delay_max": 2}
    recorders = [Recorder(example, **options) for _ in range(args.count)]
    gate = asyncio.Semaphore(CONNECTS_AT_ONCE)

    async def start(recorder: Recorder) -> None:
        async with gate:
            await recorder.client.sio.connect(args.url, transports=["websocket"], socketio_path=args.path,
                                              wait_timeout=20)
            recorder.client.subscribe(args.room)

    await asyncio.gather(*(start(recorder) for recorder in recorders))
    deadline = time.monotonic() + 20
    while any(r.client.rooms[args.room].seq is None for r in recorders) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    Path(args.ready).write_text("ready")
    try:
        await asyncio.wait_for(asyncio.gather(*(r.done.wait() for r in recorders)), args.timeout)
    except TimeoutError:
        pass  # reported: the test names the clients without the end marker
    results = [recorder.result() for recorder in recorders]
    await asyncio.gather(*(recorder.client.sio.disconnect() for recorder in recorders))
    await session.close()
    return {"clients": results}


def _post(url: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(f"{url}/api/publish", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=PUBLISH_TIMEOUT) as response:
        return json.loads(response.read())


def run_publisher(args: argparse.Namespace) -> dict[str, Any]:
    """Accepted events as [epoch, seq, data]; a refused or failed one is tried on the next instance."""
    import redis

    urls, accepted, failed = args.urls.split(","), [], 0
    stop, number, next_at = Path(args.stop), 0, time.monotonic()
    while True:
        data: Any = END if stop.exists() else number
        for attempt in range(len(urls) * (20 if data == END else 1)):  # the end marker must get through
            try:
                answer = _post(urls[(number + attempt) % len(urls)], args.token, {"room": args.room, "data": data})
                accepted.append([answer["epoch"], answer["seq"], data])
                break
            except (urllib.error.URLError, OSError):  # refused, reset, 502/503, timeout
                failed += 1
                time.sleep(0.1 if data == END else 0)
        if data == END:
            break
        number += 1
        next_at += 1 / args.rate
        time.sleep(max(0.0, next_at - time.monotonic()))
    # What history holds for the room: the truth every client must end with.
    stored = redis.Redis.from_url(args.redis).lrange(f"swarmdeploy:{args.name}:events", 0, -1)
    truth = [[e["epoch"], e["seq"], e["data"]] for e in map(json.loads, stored) if e["room"] == args.room]
    return {"accepted": accepted, "failed_attempts": failed, "truth": truth}


def main() -> None:
    parser = argparse.ArgumentParser()
    modes = parser.add_subparsers(dest="mode", required=True)
    clients = modes.add_parser("clients")
    clients.add_argument("url")
    clients.add_argument("room")
    clients.add_argument("--count", type=int, default=200)
    clients.add_argument("--path", default="socket.io")
    clients.add_argument("--ready", required=True, help="written once every client knows its position")
    clients.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the end marker")
    publish = modes.add_parser("publish")
    publish.add_argument("room")
    publish.add_argument("--urls", required=True, help="the instances, comma-separated")
    publish.add_argument("--token", required=True)
    publish.add_argument("--rate", type=float, default=20.0, help="events per second")
    publish.add_argument("--stop", required=True, help="publish until this file exists")
    publish.add_argument("--redis", required=True)
    publish.add_argument("--name", required=True, help="the deployment's name (its Redis keys)")
    for mode in (clients, publish):
        mode.add_argument("--out", required=True)
    args = parser.parse_args()
    result = asyncio.run(run_clients(args)) if args.mode == "clients" else run_publisher(args)
    Path(args.out).write_text(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
