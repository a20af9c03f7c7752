"""A direct WebSocket must get 101 Switching Protocols through every proxy on the path."""

from __future__ import annotations

import asyncio

import websockets

from swarmdeploy.verify.engineio import SocketIOWebSocket
from swarmdeploy.verify.result import Observation, Status
from swarmdeploy.verify.target import Target



def proxy_fix(target: Target) -> str:
    """The nginx lines that carry an upgrade, named as the rendered site names its map variable."""
    variable = f"${target.expect('ident')}_connection_upgrade" if target.model else "$connection_upgrade"
    return ("the proxy drops the Upgrade/Connection headers or speaks HTTP/1.0 upstream: in nginx set "
            f"proxy_http_version 1.1, proxy_set_header Upgrade $http_upgrade and proxy_set_header Connection "
            f"{variable} (swarmdeploy's rendered site does, with its map); then reload nginx")


async def _open(target: Target) -> dict:
    client = SocketIOWebSocket(target)
    try:
        return await client.open()
    finally:
        await client.close()


def run(target: Target) -> list[Observation]:
    try:
        handshake = asyncio.run(_open(target))
    except websockets.InvalidStatus as error:
        status = error.response.status_code
        body = error.response.body.decode(errors="replace")
        if status == 400 and "Invalid transport" in body:
            return [Observation("101", Status.FAIL, "the server refuses the websocket transport",
                                "add websocket to socketio.transports (and install simple-websocket for threading)")]
        return [Observation("101", Status.FAIL, f"HTTP {status} instead of 101 Switching Protocols ({body[:80]})",
                            proxy_fix(target))]
    except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as error:
        return [Observation("101", Status.FAIL, f"no WebSocket: {type(error).__name__}: {error}", proxy_fix(target))]
    return [Observation("101", Status.PASS, f"101 Switching Protocols, open packet sid {handshake['sid'][:6]}...")]
