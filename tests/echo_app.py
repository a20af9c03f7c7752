"""A WSGI app for testing the rendered nginx site on its own: it answers what reached it.

Run as an instance (server.app: echo_app:create_app), it shows which headers nginx forwards, and
/socket.io/stream sends three chunks 0.3 s apart, to see whether nginx passes them on as they come.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

FORWARDED = ("HTTP_HOST", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_X_REAL_IP",
             "HTTP_UPGRADE", "HTTP_CONNECTION", "REMOTE_ADDR", "PATH_INFO", "QUERY_STRING")
CHUNK_DELAY = 0.3


def _stream() -> Iterator[bytes]:
    for number in range(3):
        yield f"chunk {number} {time.time()}\n".encode()
        time.sleep(CHUNK_DELAY)


def create_app() -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ["PATH_INFO"].endswith("/stream"):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return _stream()
        body = json.dumps({key: environ.get(key) for key in FORWARDED}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return app
