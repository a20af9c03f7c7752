"""The JSON module python-socketio and python-engineio encode and decode every packet with.

Encoding goes through orjson, several times faster than the standard library on the small payloads of
each event (docs/benchmarks.md); what orjson refuses (non-string keys, integers beyond 64 bits) falls back
to the standard library, so nothing that encoded before fails now. Two outputs differ from the standard
library's, both still JSON: non-ASCII text is written as UTF-8 instead of \\u escapes, and NaN / Infinity
(which the standard library writes as bare `NaN`, a token JavaScript's JSON.parse rejects) become null.

Decoding stays with the standard library: orjson turns an integer beyond 64 bits into a float, which would
change a client's value on its way through the server.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any, **_options: Any) -> str:
    """JSON text; the options python-socketio passes (separators) are what orjson does anyway: compact."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"))


loads = json.loads
