"""A TCP link the test controls between clients and nginx, to cut the clients' network (tests/test_resume.py).

`drop(seconds)` is a network outage: for `seconds` nothing crosses in either direction (bytes are swallowed, new
connections are accepted and held silent, as a dead route does), then every connection that lived through it
is reset, as a NAT or a mobile network that lost its state does, and the link carries traffic again. The
clients notice only then, so they are away for the whole outage plus their reconnection delay.

Each connection leaves from its own loopback source address (127.0.X.Y), so nginx's ip_hash spreads the clients
over the instances and its per-address limit_conn does not cap them.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time

CHUNK = 65536


class CuttableLink:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0  # known once started
        self.connections = 0  # accepted so far
        self.live = 0  # carrying traffic to nginx now
        self._dropping = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._sources = (f"127.0.{n % 64}.{1 + (n // 64) % 250}" for n in itertools.count())
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> CuttableLink:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, "127.0.0.1", 0), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def wait_live(self, count: int, timeout: float) -> bool:
        """Whether `count` connections carry traffic (the clients are back) within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.live != count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def drop(self, seconds: float) -> None:
        """Blocks for the outage; returns once the link carries traffic again."""
        asyncio.run_coroutine_threadsafe(self._drop(seconds), self._loop).result(seconds + 10)

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            self._reset_all()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _drop(self, seconds: float) -> None:
        self._dropping = True
        await asyncio.sleep(seconds)
        self._reset_all()
        self._dropping = False

    def _reset_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()  # RST, not FIN: the connection is gone, not closed politely
        self._writers.clear()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(client_writer)
        if self._dropping:
            return  # held silent until the outage ends and resets it
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                *self.upstream, local_addr=(next(self._sources), 0))
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.add(upstream_writer)
        self.live += 1
        try:
            await asyncio.gather(self._pipe(client_reader, upstream_writer),
                                 self._pipe(upstream_reader, client_writer))
        finally:
            self.live -= 1

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(CHUNK):
                if not self._dropping:
                    writer.write(data)
                    await writer.drain()
            writer.write_eof()
        except (ConnectionError, OSError, RuntimeError):
            writer.transport.abort()
        finally:
            self._writers.discard(writer)
