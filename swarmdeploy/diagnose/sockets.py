"""sockets.txt: the TCP sockets listening on this machine (from /proc/net/tcp and tcp6: no ss or netstat
needed), the process holding each, and how many connections each port has; a clue for a service that runs but
does not listen on its port."""

from __future__ import annotations

import ipaddress
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from swarmdeploy.diagnose.causes import NOT_LISTENING
from swarmdeploy.diagnose.context import Context
from swarmdeploy.diagnose.part import Clue, Collected

LISTEN, ESTABLISHED = "0A", "01"  # include/net/tcp_states.h


@dataclass(frozen=True)
class Socket:
    address: str
    port: int
    state: str
    inode: int


def collect(ctx: Context) -> Collected:
    sockets = read_sockets()
    listening = [s for s in sockets if s.state == LISTEN]
    connections = Counter(s.port for s in sockets if s.state == ESTABLISHED)
    owners = _owners({s.inode for s in listening})
    lines = ["listening TCP sockets (/proc/net/tcp, tcp6): address, process, established connections on the port"]
    for entry in sorted(listening, key=lambda s: (s.port, s.address)):
        lines.append(f"  {entry.address}:{entry.port:<6} {owners.get(entry.inode, '(another user or namespace)'):<30} "
                     f"{connections[entry.port]}")
    clues = []
    if ctx.model:
        ports = {s.port for s in listening}
        lines += ["", "this deployment's ports:"]
        for service, port in _service_ports(ctx.model).items():
            heard = port in ports
            lines.append(f"  {service:<16} {port:<6} {'listening' if heard else 'NOT listening'}")
            running = any(row["service"] == service and row["running"] for row in ctx.services)
            if running and not heard:
                clues.append(Clue(f"{service} runs but nothing listens on port {port}", NOT_LISTENING,
                                  f"{ctx.command('restart', service, '--name', ctx.name)}; its log: logs/{service}.log",
                                  "sockets.txt"))
    return Collected({"sockets.txt": "\n".join(lines) + "\n"}, clues)


def read_sockets() -> list[Socket]:
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            address, _, port = fields[1].partition(":")
            found.append(Socket(_address(address), int(port, 16), fields[3], int(fields[9])))
    return found


def _address(hex_address: str) -> str:
    """The kernel prints each 32-bit word of the address in host byte order."""
    raw = bytes.fromhex(hex_address)
    if sys.byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(raw)
    return f"[{address}]" if address.version == 6 else str(address)


def _owners(inodes: set[int]) -> dict[int, str]:
    """Socket inode -> 'pid N name' of a process holding it, from /proc/*/fd links."""
    owners: dict[int, str] = {}
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        try:
            descriptors = list((process / "fd").iterdir())
            name = (process / "comm").read_text().strip()
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                link = os.readlink(descriptor)
            except OSError:
                continue
            if link.startswith("socket:[") and int(link[8:-1]) in inodes:
                owners.setdefault(int(link[8:-1]), f"pid {process.name} {name}")
    return owners


def _service_ports(model: dict) -> dict[str, int]:
    ports = {f"instance-{port}": port for port in model["server"]["ports"]}
    site = model["site"]
    ports["nginx"] = site["https_port"] if model["tls"]["enabled"] else site["http_port"]
    if model["server"]["message_queue_managed"]:
        ports["redis"] = urlsplit(model["server"]["message_queue"]).port or 6379
    return ports
