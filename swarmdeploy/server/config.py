"""The server's settings: read from the SWARMDEPLOY_* variables of the rendered environment file.

The environment file (templates/systemd/server.env.j2) is the single mapping from the resolved
model to the server; `env_from_model` renders that same template, so the systemd unit,
`swarmdeploy serve`, the tests and `create_app(model)` all see identical values.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from swarmdeploy.errors import SwarmdeployError

ENV_FILE_TEMPLATE = "systemd/server.env.j2"
PORT_VARIABLE = "SWARMDEPLOY_PORT"  # set per instance by the unit (Environment=SWARMDEPLOY_PORT=%i)


class ServerConfigError(SwarmdeployError):
    """The environment does not describe a runnable server (missing variable, secret unset)."""


@dataclass(frozen=True)
class ServerConfig:
    name: str
    environment: str = "production"
    port: int = 0
    async_mode: str = "threading"
    message_queue: str | None = None
    metrics_public: bool = False
    socketio_path: str = "/socket.io"
    transports: tuple[str, ...] = ("websocket", "polling")
    allow_upgrades: bool = True
    ping_interval: int = 25
    ping_timeout: int = 20
    cors_allowed_origins: tuple[str, ...] = ()
    max_http_buffer_size: int = 1_000_000
    compression_threshold: int = 1024
    batch_interval: float = 0.1
    batch_max_size: int = 50
    history_limit: int = 1000
    cookie: str | None = None
    auth_token: str | None = None  # the secret itself, read from the variable the profile names
    publish_token: str | None = None
    log_level: str = "info"

    @property
    def instance_id(self) -> str:
        # name@host:port is unique across the hosts behind one balancer, and names the unit.
        return f"{self.name}@{socket.gethostname()}:{self.port}"


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile= reads our rendered file (no quoting used)."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def env_from_model(model: Mapping[str, Any]) -> dict[str, str]:
    """The variables the rendered environment file sets for this model."""
    from swarmdeploy.templating import render_template  # jinja2 only when a model is given

    return parse_env_file(render_template(ENV_FILE_TEMPLATE, dict(model)))


def _secret(env: Mapping[str, str], variable_name: str, field: str) -> str | None:
    """The token held by the variable the profile names; refuse to start open when it is unset."""
    if not variable_name:
        return None
    value = env.get(variable_name) or os.environ.get(variable_name)
    if not value:
        raise ServerConfigError(
            f"{field} names ${variable_name}, which is unset or empty: set it (for example in a secrets "
            f"EnvironmentFile) or remove {field} from the profile"
        )
    return value


def _list(value: str) -> tuple[str, ...]:
    return tuple(item for item in value.split(",") if item)


def config_from_env(env: Mapping[str, str]) -> ServerConfig:
    """Build the config from the SWARMDEPLOY_* variables the rendered environment file sets.

    Every setting is required: the profile's resolved model is the one source of defaults, so
    a missing variable means the environment file was not loaded, not "use some default".
    """
    if not env.get("SWARMDEPLOY_NAME"):
        raise ServerConfigError(
            "SWARMDEPLOY_NAME is not set: run the server through its systemd unit (EnvironmentFile=) "
            "or `swarmdeploy serve PROFILE`"
        )

    def need(variable: str) -> str:
        if variable not in env:
            raise ServerConfigError(f"{variable} is not set: the environment file is incomplete; render it again")
        return env[variable]

    try:
        return ServerConfig(
            name=need("SWARMDEPLOY_NAME"),
            environment=need("SWARMDEPLOY_ENVIRONMENT"),
            port=int(env.get(PORT_VARIABLE) or 0),
            async_mode=need("SWARMDEPLOY_ASYNC_MODE"),
            message_queue=need("SWARMDEPLOY_MESSAGE_QUEUE") or None,
            metrics_public=need("SWARMDEPLOY_METRICS_PUBLIC").lower() == "true",
            socketio_path=need("SWARMDEPLOY_SOCKETIO_PATH"),
            transports=_list(need("SWARMDEPLOY_TRANSPORTS")),
            allow_upgrades=need("SWARMDEPLOY_ALLOW_UPGRADES").lower() == "true",
            ping_interval=int(need("SWARMDEPLOY_PING_INTERVAL")),
            ping_timeout=int(need("SWARMDEPLOY_PING_TIMEOUT")),
            cors_allowed_origins=_list(need("SWARMDEPLOY_CORS_ALLOWED_ORIGINS")),
            max_http_buffer_size=int(need("SWARMDEPLOY_MAX_HTTP_BUFFER_SIZE")),
            compression_threshold=int(need("SWARMDEPLOY_COMPRESSION_THRESHOLD")),
            batch_interval=float(need("SWARMDEPLOY_BATCH_INTERVAL")),
            batch_max_size=int(need("SWARMDEPLOY_BATCH_MAX_SIZE")),
            history_limit=int(need("SWARMDEPLOY_HISTORY_LIMIT")),
            cookie=need("SWARMDEPLOY_COOKIE") or None,
            auth_token=_secret(env, need("SWARMDEPLOY_AUTH_TOKEN_ENV"), "server.auth_token_env"),
            publish_token=_secret(env, need("SWARMDEPLOY_PUBLISH_TOKEN_ENV"), "server.publish_token_env"),
            log_level=need("SWARMDEPLOY_LOG_LEVEL"),
        )
    except ValueError as error:
        raise ServerConfigError(f"a SWARMDEPLOY_* variable has a malformed value: {error}") from error


def load_config(config: ServerConfig | Mapping[str, Any] | None = None) -> ServerConfig:
    """None: the process environment; a resolved model (has "server"); or SWARMDEPLOY_* variables."""
    if isinstance(config, ServerConfig):
        return config
    if config is None:
        return config_from_env(os.environ)
    if "server" in config:
        return config_from_env(env_from_model(config))
    return config_from_env(config)
