"""An idle WebSocket must outlive every idle timeout on the path (--soak SECONDS)."""

from __future__ import annotations

import asyncio
import time

import websockets

from swarmdeploy.verify.engineio import SocketIOWebSocket
from swarmdeploy.verify.result import Observation, Status
from swarmdeploy.verify.target import Target


async def _hold(target: Target) -> float | None:
    """Seconds until the connection closed, or None when it survived the soak and still answers."""
    client = SocketIOWebSocket(target)
    await client.connect(target.auth)
    started = time.monotonic()
    try:
        deadline = started + target.soak
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                packet = await asyncio.wait_for(client.socket.recv(), remaining)
            except TimeoutError:
                break
            if packet == "2":  # answer heartbeats, as every client does; send nothing else
                await client.socket.send("3")
        await client.emit("ping", {"check": "idle"})
        await client.wait_event("pong", target.timeout)
        return None
    except websockets.ConnectionClosed:
        return time.monotonic() - started
    finally:
        await client.close()


def run(target: Target) -> list[Observation]:
    ping_total = target.expect("socketio.ping_total")
    if target.soak <= 0:
        hint = f" (longer than the shortest proxy timeout; the profile's pings span {ping_total} s)" if ping_total else ""
        return [Observation("soak", Status.SKIP, f"not run: pass --soak SECONDS{hint}")]
    closed_after = asyncio.run(_hold(target))
    if closed_after is None:
        return [Observation("soak", Status.PASS, f"idle for {target.soak:.0f} s, still answering")]
    return [Observation("soak", Status.FAIL, f"the connection closed after {closed_after:.1f} s idle",
                        f"an idle timeout on the path is shorter than ping_interval + ping_timeout"
                        f"{f' ({ping_total} s)' if ping_total else ''}: raise nginx proxy_read_timeout/"
                        "proxy_send_timeout (proxy.read_timeout), HAProxy timeout tunnel, or the ALB idle timeout")]
