"""Start on polling and upgrade to WebSocket, as browsers do: probe, upgrade, then traffic."""

from __future__ import annotations

import asyncio

import websockets

from swarmdeploy.verify.engineio import SESSION_MOVED, EngineIOError, PollingSession, SocketIOWebSocket, engineio_url
from swarmdeploy.verify.result import Observation, Status
from swarmdeploy.verify.target import Target

UPGRADE_PACKET = "5"


async def _upgrade(target: Target, session: PollingSession) -> None:
    client = SocketIOWebSocket(target, engineio_url(target, "websocket", session.sid, websocket=True),
                               cookies=session.cookies)
    await client.connect_transport()
    try:
        await client.socket.send("2probe")
        answer = await asyncio.wait_for(client.socket.recv(), target.timeout)
        if answer != "3probe":
            raise EngineIOError(f"the probe was answered with {answer!r}, not '3probe'")
        await client.socket.send(UPGRADE_PACKET)
        await client.emit("ping", {"check": "upgrade"})
        await client.wait_event("pong", target.timeout)
    finally:
        await client.close()


def run(target: Target) -> list[Observation]:
    if target.expect("socketio.allow_upgrades") is False:
        return [Observation("upgrade", Status.SKIP, "the profile keeps clients on polling (socketio.allow_upgrades)")]
    session = PollingSession(target)
    try:
        upgrades = session.open().get("upgrades", [])
        if "websocket" not in upgrades:
            return [Observation("upgrades offered", Status.FAIL, f"the handshake offers no websocket upgrade ({upgrades})",
                                "the server runs with upgrades off: deploy the rendered environment file "
                                "(SWARMDEPLOY_ALLOW_UPGRADES=true, socketio.allow_upgrades) and restart; threading mode "
                                "also needs simple-websocket")]
        session.connect_socketio(target.auth)
        asyncio.run(_upgrade(target, session))
    except EngineIOError as error:
        if error.session_unknown:
            return [Observation("upgrade", Status.SKIP, SESSION_MOVED)]
        return [Observation("upgrade", Status.FAIL, str(error), "see the server's log for the refused upgrade")]
    except websockets.InvalidStatus as error:
        body = error.response.body.decode(errors="replace")
        if "Invalid session" in body:
            return [Observation("upgrade", Status.SKIP, SESSION_MOVED)]
        return [Observation("upgrade", Status.FAIL, f"HTTP {error.response.status_code} on the upgrade: {body[:80]}",
                            "the proxy must pass Upgrade/Connection for requests that carry a sid too")]
    except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as error:
        return [Observation("upgrade", Status.FAIL, f"{type(error).__name__}: {error}",
                            "the upgraded socket must stay open: check proxy timeouts and buffering")]
    return [Observation("upgrade", Status.PASS,
                        f"offered {upgrades}; the polling session upgraded and a pong arrived over WebSocket")]
