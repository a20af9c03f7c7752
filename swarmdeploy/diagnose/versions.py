"""versions.txt: Python and the server's libraries in the environment the instances run from, nginx, HAProxy,
Redis (installed and running), OpenSSL, the socket.io client the instances serve, and the machine."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from swarmdeploy import __version__
from swarmdeploy.diagnose.causes import PROTOCOL_MISMATCH
from swarmdeploy.diagnose.context import Context
from swarmdeploy.diagnose.part import Clue, Collected

DISTRIBUTIONS = ("Flask-SocketIO", "python-socketio", "python-engineio", "gunicorn", "gevent", "redis", "Flask",
                 "simple-websocket", "swarmdeploy")
_VERSIONS_SCRIPT = ("import importlib.metadata as m, json, sys\n"
                    "def v(d):\n    try: return m.version(d)\n    except m.PackageNotFoundError: return None\n"
                    "print(json.dumps({'python': sys.version.split()[0], **{d: v(d) for d in sys.argv[1:]}}))")
TIMEOUT = 10.0
CLIENT_FILE = "/static/socket.io.min.js"
_CLIENT_VERSION = re.compile(rb"Socket\.IO v(\d+\.\d+\.\d+)")
SERVER_PROTOCOL_MAJOR = "4"  # python-engineio 4 speaks EIO=4, which socket.io-client 4 speaks


def collect(ctx: Context) -> Collected:
    model = ctx.model
    lines = [f"swarmdeploy {__version__} (diagnose ran with Python {platform.python_version()}, {sys.prefix})"]
    venv = Path(model["server"]["venv"]) if model else Path(sys.prefix)
    lines += _libraries(venv)
    lines += [f"nginx: {_tool(['nginx', '-V'])}", f"HAProxy: {_tool(['haproxy', '-v'])}",
              f"Redis server (installed): {_tool(['redis-server', '--version'])}",
              f"OpenSSL: {_tool(['openssl', 'version'])}; Python's ssl module: {ssl.OPENSSL_VERSION}"]
    clues = []
    if model:
        lines.append(f"Redis (running, the message queue): {_running_redis(model['server']['message_queue'])}")
        client = _served_client(model)
        lines.append(f"socket.io client served: {client}")
        if re.match(r"\d", client) and not client.startswith(SERVER_PROTOCOL_MAJOR + "."):
            clues.append(Clue(f"the instances serve socket.io client {client}", PROTOCOL_MISMATCH,
                              "serve socket.io-client 4.x (the server speaks EIO=4)", "versions.txt"))
    lines += _machine()
    return Collected({"versions.txt": "\n".join(lines) + "\n"}, clues)


def _libraries(venv: Path) -> list[str]:
    python = venv / "bin" / "python"
    if not python.exists():
        return [f"instances' Python environment {venv}: not found on this machine"]
    try:
        found: dict[str, Any] = json.loads(subprocess.run(
            [str(python), "-c", _VERSIONS_SCRIPT, *DISTRIBUTIONS], capture_output=True, text=True,
            timeout=TIMEOUT, check=True).stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        return [f"instances' Python environment {venv}: could not be asked ({error})"]
    lines = [f"instances' Python environment: {venv} (Python {found.pop('python')})"]
    return lines + [f"  {name} {version or 'not installed'}" for name, version in found.items()]


def _tool(argv: list[str]) -> str:
    """The first line a program prints about its version (nginx -V: also the OpenSSL it was built with)."""
    if not shutil.which(argv[0]):
        return "not installed"
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return f"could not be run ({error})"
    said = [line.strip() for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    wanted = [line for line in said if "version" in line.lower() or line.startswith("built with")]
    return "; ".join(wanted[:2] or said[:1]) or "(said nothing)"


def _running_redis(url: str) -> str:
    """redis_version from INFO server, over a bare socket (redis-py may not be installed where diagnose runs)."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=2) as raw:
            connection = ssl.create_default_context().wrap_socket(raw, server_hostname=parts.hostname) \
                if parts.scheme == "rediss" else raw
            if parts.password:
                _command(connection, "AUTH", *([unquote(parts.username)] if parts.username else []),
                         unquote(parts.password))
            info = _command(connection, "INFO", "server")
    except OSError as error:
        return f"unreachable ({error.strerror or error})"
    found = re.search(r"redis_version:(\S+)", info)
    return found.group(1) if found else f"answered {info[:60]!r}"


def _command(connection: socket.socket, *words: str) -> str:
    """One RESP command; the reply as text (an error reply raises)."""
    encoded = [word.encode() for word in words]
    connection.sendall(b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in encoded))
    reply = b""
    while not reply.endswith(b"\r\n") or (reply.startswith(b"$") and not _bulk_complete(reply)):
        chunk = connection.recv(65536)
        if not chunk:
            break
        reply += chunk
    if reply.startswith(b"-"):
        raise OSError(reply[1:].decode(errors="replace").strip())
    return reply.decode(errors="replace")


def _bulk_complete(reply: bytes) -> bool:
    header, _, body = reply.partition(b"\r\n")
    return len(body) >= int(header[1:]) + 2


def _served_client(model: dict[str, Any]) -> str:
    """The version in the header of the client the first instance serves, as a browser would get it."""
    host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(model["server"]["bind"], model["server"]["bind"])
    url = f"http://{host}:{model['server']['ports'][0]}{CLIENT_FILE}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as answer:
            head = answer.read(512)
    except OSError as error:
        return f"not read ({url}: {getattr(error, 'reason', error)})"
    found = _CLIENT_VERSION.search(head)
    return f"{found.group(1).decode()} ({url})" if found else f"no version in the first bytes of {url}"


def _machine() -> list[str]:
    release = Path("/etc/os-release")
    pretty = re.search(r'^PRETTY_NAME="?([^"\n]*)', release.read_text(), re.MULTILINE) if release.exists() else None
    memory = Path("/proc/meminfo").read_text().splitlines()[:3] if Path("/proc/meminfo").exists() else []
    return [(f"machine: {pretty.group(1) if pretty else platform.system()}, kernel {platform.release()}, "
            f"{os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"),
            *(f"  {line}" for line in memory)]
