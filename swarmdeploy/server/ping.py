"""The latency probe's common form, answered where Engine.IO hands over the message.

`42["ping",PAYLOAD]` (an event on the default namespace, without an acknowledgement id) is what the
status page, the benchmark's clients and `swarmdeploy bench` send once a second each. python-socketio
would decode it into a Packet, start a greenlet for the handler, then build, inspect for binary data and
route the `pong` through its client manager; here the answer is one JSON encode and one Engine.IO send,
to the same client, through the same outgoing queue. Every other message (another event, a ping with
an acknowledgement id or several arguments, binary data, a client not connected to the namespace) goes
to python-socketio unchanged, and its `ping` handler (events.py) answers those pings the same way.
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
            eio.send(eio_sid, "2" + codec.dumps(["pong", pong(payload)]))
            return None
        return socketio_message(eio_sid, data)

    eio.on("message", message)
