"""The bundled Flask-SocketIO server swarmdeploy deploys by default (`swarmdeploy.server:create_app`).

Modules, one job each: config (SWARMDEPLOY_* variables -> ServerConfig), app (the factory),
events (Socket.IO handlers), broadcast (publish + batching), history (bounded replay),
metrics (Prometheus), routes (HTTP), runtime (GC and gevent tuning), serve (`swarmdeploy serve`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["create_app"]


def create_app(config: Any = None) -> "Flask":
    # Imported on call: `import swarmdeploy.server` stays cheap and works without the server extra.
    from swarmdeploy.server.app import create_app as factory

    return factory(config)
