"""Confirm that an nginx reload took effect: nginx answers a reload signal (and `-s reload` exits 0)
even when the new configuration fails, and then starts no new workers. New workers are the proof;
old ones may linger while their WebSockets drain (up to worker_shutdown_timeout), but must have
stopped accepting before anything is verified, or a check may still meet the old configuration."""

from __future__ import annotations

from pathlib import Path

from swarmdeploy.deploy.health import wait_for
from swarmdeploy.errors import SwarmdeployError

RELOAD_TIMEOUT = 15.0
SHUTTING_DOWN = "is shutting down"  # the title nginx gives a worker that closed its listening sockets


class ApplyError(SwarmdeployError):
    """A service did not come up with the new release."""


def _stat(pid: str) -> tuple[int, str] | None:
    """(parent pid, state) from /proc: no procps needed on a minimal host."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return int(fields[1]), fields[0]


def workers(master: int) -> set[int]:
    """The live children of the nginx master (its workers)."""
    children = set()
    for entry in Path("/proc").iterdir():
        stat = _stat(entry.name) if entry.name.isdigit() else None
        if stat and stat[0] == master and stat[1] != "Z":
            children.add(int(entry.name))
    return children


def _title(pid: int) -> str | None:
    """The title an nginx process gives itself (its /proc cmdline); None once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None


def _accepting(pid: int) -> bool:
    title = _title(pid)
    return title is not None and SHUTTING_DOWN not in title and _stat(str(pid)) is not None


def started_as(master: int, argv: list[str]) -> bool:
    """The nginx master runs from this command line: it titles itself "nginx: master process ARGV"."""
    return " ".join(argv) in (_title(master) or "")


def error_log_tail(log_dir: str, lines: int = 5) -> str:
    path = Path(log_dir) / "error.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def confirm_reload(master: int, before: set[int], log_dir: str) -> None:
    if not wait_for(lambda: workers(master) - before, RELOAD_TIMEOUT):
        raise ApplyError("nginx kept its old configuration after the reload:\n" + error_log_tail(log_dir))
    # Old workers close their listening sockets when they start shutting down; until then they accept.
    if not wait_for(lambda: not any(_accepting(pid) for pid in before), RELOAD_TIMEOUT, interval=0.02):
        raise ApplyError("nginx's old workers still accept connections after the reload:\n" + error_log_tail(log_dir))
