"""limits.txt: open-file limits (this process, each service's from /proc/PID/limits), the kernel's queue and
descriptor settings, and nginx's worker limits from the deployed config; clues for limits below what the
deployment is sized for."""

from __future__ import annotations

import os
import re
import resource
from pathlib import Path
from typing import Any

from swarmdeploy.bench.procfs import children
from swarmdeploy.diagnose.causes import DESCRIPTORS
from swarmdeploy.diagnose.context import Context
from swarmdeploy.diagnose.part import Clue, Collected

KERNEL = ("net/core/somaxconn", "net/ipv4/tcp_max_syn_backlog", "net/ipv4/ip_local_port_range", "fs/file-max",
          "fs/nr_open")
NGINX_LIMITS = ("worker_processes", "worker_connections", "worker_rlimit_nofile")


def collect(ctx: Context) -> Collected:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lines = [f"this process (swarmdeploy diagnose): open files soft {soft}, hard {hard}", "",
             "kernel (/proc/sys):", *(f"  {key.replace('/', '.')} = {_read(Path('/proc/sys') / key)}" for key in KERNEL),
             "", "services (/proc/PID/limits, Max open files soft hard):"]
    clues = []
    for service, pid in ctx.running_pids.items():
        pids = [pid, *children(pid)] if service == "nginx" else [pid]
        lines += [f"  {service} pid {each}: {open_files(each) or 'not readable'}" for each in pids]
    nginx = _nginx_limits(ctx)
    if nginx:
        lines += ["", f"deployed nginx.conf: {', '.join(f'{k} {v}' for k, v in nginx.items())}", *_nginx_lines(nginx)]
        clues += _nginx_clues(nginx)
    if ctx.model:
        server = ctx.model["server"]
        lines += ["", (f"instances: gunicorn --worker-connections {server['worker_connections']}, "
                      f"unit LimitNOFILE {server['open_files_limit']}")]
        clues += _instance_clues(ctx, server)
    return Collected({"limits.txt": "\n".join(lines) + "\n"}, clues)


def open_files(pid: int) -> str | None:
    try:
        text = Path(f"/proc/{pid}/limits").read_text()
    except OSError:
        return None
    found = re.search(r"^Max open files\s+(\S+)\s+(\S+)", text, re.MULTILINE)
    return f"{found.group(1)} {found.group(2)}" if found else None


def _nginx_limits(ctx: Context) -> dict[str, str]:
    config = ctx.layout.current / "nginx" / "nginx.conf"
    try:
        text = config.read_text()
    except OSError:
        return {}
    return {key: found.group(1) for key in NGINX_LIMITS
            if (found := re.search(rf"^\s*{key}\s+(\S+);", text, re.MULTILINE))}


def _nginx_lines(nginx: dict[str, str]) -> list[str]:
    connections = nginx.get("worker_connections")
    workers = (os.cpu_count() or 1) if nginx.get("worker_processes") == "auto" else int(nginx.get("worker_processes", 1))
    if not connections:
        return []
    return [(f"  nginx proxies at most about {int(connections) * workers // 2:,} WebSockets: worker_connections x "
            f"{workers} worker(s) / 2 connections each (FACTS.md §1b)")]


def _nginx_clues(nginx: dict[str, str]) -> list[Clue]:
    connections, rlimit = nginx.get("worker_connections"), nginx.get("worker_rlimit_nofile")
    if connections and rlimit and int(rlimit) < int(connections):
        return [Clue(f"nginx worker_rlimit_nofile {rlimit} is below worker_connections {connections}", DESCRIPTORS,
                     "render the profile again: swarmdeploy sets it to twice worker_connections", "limits.txt")]
    return []


def _instance_clues(ctx: Context, server: dict[str, Any]) -> list[Clue]:
    # systemd applies the unit's LimitNOFILE; the process manager's services inherit the deploying shell's limit.
    fix = ("raise the soft open-files limit (ulimit -n) of the shell that runs swarmdeploy start or deploy"
           if ctx.manager == "process" else "raise the unit's LimitNOFILE (server.worker_connections sizes it)")
    clues = []
    for service, pid in ctx.running_pids.items():
        limit = (open_files(pid) or "").split()
        if service.startswith("instance-") and limit and limit[0].isdigit() \
                and int(limit[0]) < server["worker_connections"]:
            clues.append(Clue(f"{service} may open {limit[0]} files, below gunicorn's --worker-connections "
                              f"{server['worker_connections']}: it refuses clients past that", DESCRIPTORS,
                              fix, "limits.txt"))
    return clues


def _read(path: Path) -> str:
    try:
        return " ".join(path.read_text().split())
    except OSError:
        return "not readable"
