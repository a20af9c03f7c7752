"""What verify checks: the public URL, the origin a browser sends, and what the profile expects."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from swarmdeploy.model import Model

DEFAULT_SOCKETIO_PATH = "/socket.io"


@dataclass(frozen=True)
class Deployment:
    """What a deploy installed on the host: file hashes for drift, and how to test nginx."""

    files: dict[str, str]  # absolute path -> sha256
    nginx_command: list[str] = field(default_factory=list)  # nginx binary plus -p/-c options, without -t


@dataclass(frozen=True)
class Target:
    url: str
    origin: str | None = None
    ca_file: Path | None = None
    model: Model | None = None
    host: str | None = None  # testinfra host spec (local://, ssh://user@host)
    deployment: Deployment | None = None
    soak: float = 0.0
    browser: bool = False
    timeout: float = 5.0
    insecure: bool = False  # set by the runner after the tls check failed
    # Connect here instead of resolving the URL's host, which still goes in SNI and Host (curl --resolve).
    address: str | None = None
    # The URL is the balancer in front of several hosts, not one host's own nginx.
    through_balancer: bool = False
    http_port: int | None = None  # where http:// is redirected to https:// (None: the URL's scheme default)

    @cached_property
    def parts(self):
        return urlsplit(self.url)

    @property
    def scheme(self) -> str:
        return self.parts.scheme

    @property
    def hostname(self) -> str:
        return self.parts.hostname or "localhost"

    @property
    def port(self) -> int:
        return self.parts.port or (443 if self.scheme == "https" else 80)

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.parts.netloc}"

    def connect_host(self, hostname: str | None = None) -> str:
        """Where a connection to `hostname` (default: the URL's host) really goes."""
        wanted = hostname or self.hostname
        return self.address if self.address and wanted == self.hostname else wanted

    @property
    def socketio_path(self) -> str:
        return self.model["socketio"]["path"] if self.model else DEFAULT_SOCKETIO_PATH

    def expect(self, dotted: str, default: Any = None) -> Any:
        """A value of the resolved model, or default when verify runs without a profile."""
        if self.model is None:
            return default
        current: Any = self.model
        for part in dotted.split("."):
            current = current[part]
        return current

    @property
    def auth(self) -> dict[str, str] | None:
        """The Socket.IO auth payload, when the profile names the token's environment variable."""
        variable = self.expect("server.auth_token_env")
        token = os.environ.get(variable) if variable else None
        return {"token": token} if token else None

    @property
    def publish_token(self) -> str | None:
        variable = self.expect("server.publish_token_env")
        return os.environ.get(variable) if variable else None

    def ssl_context(self) -> ssl.SSLContext:
        """Trust --ca-file when given, else the system store (neither once tls has failed)."""
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context
