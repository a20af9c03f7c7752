"""The latency probe's common form, answered where Engine.IO hands over the message.

`42["ping",PAYLOAD]` (an event on the default namespace, without an acknowledgement id) is what the
status page, the benchmark's clients and `swarmdeploy bench` send once a second each. python-socketio
would decode it into a Packet, start a greenlet for the handler, then build, inspect for binary data and
route the `pong` through its client manager; here the answer is one JSON encode and one Engine.IO send,
to the same client, written at once when nothing is ahead of it (`send_now`). Every other message (another
event, a ping with an acknowledgement id or several arguments, binary data, a client not connected to the
namespace) goes to python-socketio unchanged, and its `ping` handler (events.py) answers those pings the
same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from swarmdeploy.server import codec

PING_PREFIX = '2["ping",'  # Socket.IO EVENT (2), default namespace, no ack id: 42["ping",... on the wire


def answer_pings_directly(server: Any, pong: Callable[[Any], dict[str, Any]]) -> None:
    """Serve the common ping on python-socketio `server`: pong(payload) makes the answer emitted as `pong`."""
    eio = server.eio
    socketio_message = eio.handlers["message"]
    connected_sid = server.manager.sid_from_eio_sid

    def message(eio_sid: str, data: Any) -> Any:
        if isinstance(data, str) and data.startswith(PING_PREFIX) and connected_sid(eio_sid, "/") is not None:
            try:
                _, payload = codec.loads(data[1:])
            except ValueError:  # not JSON, or not exactly [name, payload]: python-socketio's to judge
                return socketio_message(eio_sid, data)
            send_now(eio, eio_sid, "2" + codec.dumps(["pong", pong(payload)]))
            return None
        return socketio_message(eio_sid, data)

    eio.on("message", message)


def send_now(eio: Any, eio_sid: str, text: str) -> None:
    """eio.send(eio_sid, text), written at once when nothing is queued or being written to that client.

    python-engineio writes every packet from a writer greenlet fed by a queue: a queue hand-off, a timeout
    and two greenlet switches per packet. Writing here keeps the order when nothing can be ahead:
    - gevent switches greenlets only where one blocks, so nothing runs between two checks;
    - the writer takes a packet off its queue only when it runs, then writes it before it can block again
      (poll(), encode() and its loop over the packets never wait); the only place it can wait with a
      packet in hand is inside the WebSocket's `send`, which `FrameWebSocket.sending` counts;
    - so "queue empty and no send in progress" means every packet queued earlier is on the socket.
    Otherwise (not a FrameWebSocket connection, during a polling -> WebSocket upgrade, while closing)
    the packet goes through python-engineio's queue as before.
    """
    session = eio.sockets.get(eio_sid)
    ws = getattr(session, "frame_websocket", None)  # set by websocket.FrameWebSocket while it serves the session
    if (
        ws is None
        or ws.sending
        or ws.closed
        or not session.upgraded
        or session.upgrading
        or session.closing
        or session.closed
        or session.queue.qsize()
    ):
        eio.send(eio_sid, text)
        return
    if not session.check_ping_timeout():  # as Socket.send: a client past its ping timeout is closed instead
        return
    try:
        ws.send("4" + text)  # Engine.IO MESSAGE packet, as packet.Packet(MESSAGE, text).encode()
    except OSError:  # the socket is gone: its reader sees that and closes the Engine.IO session
        return
