"""What `swarmdeploy bench` loads: the public URL of a profile, of --url, or of the last deployment recorded under
--root; and whether it may: more than a few clients only against this machine's loopback, unless the user
says the host is theirs."""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from swarmdeploy.deploy.layout import Layout
from swarmdeploy.errors import UsageError
from swarmdeploy.profile import load_profile
from swarmdeploy.verify.record import last_deployment
from swarmdeploy.verify.target import DEFAULT_SOCKETIO_PATH

MAX_REMOTE_CLIENTS = 50  # a load test of someone else's host is an attack: more only with --i-own-this-host
CONFIRM_FLAG = "--i-own-this-host"


@dataclass(frozen=True)
class BenchTarget:
    url: str  # the public base URL: scheme://host[:port]
    origin: str
    ca_file: Path | None = None
    model: dict[str, Any] | None = None  # the profile's, when known: its instances can be measured locally

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def engineio_url(self) -> str:
        path = self.model["socketio"]["path"] if self.model else DEFAULT_SOCKETIO_PATH
        scheme = "wss" if self.url.startswith("https://") else "ws"
        return f"{scheme}://{urlsplit(self.url).netloc}{path}/?EIO=4&transport=websocket"

    @property
    def auth(self) -> dict[str, str] | None:
        """The Socket.IO auth payload, when the profile names a token variable set in this environment."""
        variable = self.model["server"]["auth_token_env"] if self.model else None
        token = os.environ.get(variable) if variable else None
        return {"token": token} if token else None

    @property
    def ipv4_loopback(self) -> bool:
        """Clients may then take source addresses 127.0.X.Y (bench/client.py says why)."""
        return self.host == "localhost" or _is_ipv4_loopback(self.host)


def bench_target(profile: Path | None, url: str | None, root: Path, ca_file: Path | None) -> BenchTarget:
    """A profile's verify.url (or --url), else the URL of the last deployment recorded under root."""
    if url:
        _check_url(url)
    model = load_profile(profile).model if profile else None
    if profile is None and url is None:
        record = last_deployment(Layout(root, "").state_root)
        recorded_ca = record.get("ca_file")
        return BenchTarget(record["url"].rstrip("/"), record["model"]["verify"]["origin"],
                           ca_file or (Path(recorded_ca) if recorded_ca else None), record["model"])
    base = (url or model["verify"]["url"]).rstrip("/")
    parts = urlsplit(base)
    origin = (model["verify"]["origin"] if model else None) or f"{parts.scheme}://{parts.netloc}"  # as verify
    profile_ca = model["verify"]["ca_file"] if model else None
    return BenchTarget(base, origin, ca_file or (Path(profile_ca) if profile_ca else None), model)


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError as error:
        raise UsageError(f"--url {url}: {error}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UsageError(f"--url {url}: give the public URL as https://host[:port] (or http://)")


def refuse_remote_load(target: BenchTarget, clients: int, confirmed: bool) -> None:
    """UsageError, before any connection, for more than MAX_REMOTE_CLIENTS against a host not on loopback."""
    if clients <= MAX_REMOTE_CLIENTS or confirmed or is_loopback(target.host):
        return
    raise UsageError(f"{target.host} is not this machine's loopback: bench opens at most {MAX_REMOTE_CLIENTS} "
                     f"clients against another host (asked for {clients:,}). A load test of a host you do not "
                     f"own is an attack; if {target.host} is yours, pass {CONFIRM_FLAG}")


def is_loopback(host: str) -> bool:
    """An address literal is judged as it is (no lookup); a name by every address it resolves to."""
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always loopback
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.partition("%")[0]).is_loopback for a in addresses)


def _is_ipv4_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network("127.0.0.0/8")
    except ValueError:
        return False
