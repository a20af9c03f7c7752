"""logs/: the last lines of every service log (the process manager's run/ logs, nginx's error and access logs,
the deploy's own log; the journal of each systemd unit when journalctl is here), and clues from lines that
name a cause by themselves."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from swarmdeploy.diagnose.causes import LOG_SIGNS
from swarmdeploy.diagnose.context import Context
from swarmdeploy.diagnose.part import Clue, Collected

TAIL_LINES = 200
TAIL_BYTES = 256 * 1024  # read from the end only: a busy access log grows to gigabytes
JOURNAL_TIMEOUT = 15.0


def collect(ctx: Context) -> Collected:
    files: dict[str, str] = {}
    for name, path in _log_files(ctx).items():
        files[f"logs/{name}"] = tail(path)
    if ctx.manager == "systemd" and ctx.model and shutil.which("journalctl"):
        for unit in _units(ctx):
            files[f"logs/journal-{unit}.log"] = _journal(unit)
    return Collected(files, log_clues(files))


def _log_files(ctx: Context) -> dict[str, Path]:
    """Archive name -> log file, each file once (the demo's nginx logs sit in the run directory)."""
    candidates = [ctx.layout.log]
    if ctx.layout.run.is_dir():
        candidates += sorted(ctx.layout.run.glob("*.log")) + sorted((ctx.layout.run / "nginx").glob("*.log"))
    if ctx.model:
        log_dir = Path(ctx.model["proxy"]["log_dir"])
        candidates += [log_dir / "error.log", log_dir / "access.log"]
    found: dict[str, Path] = {}
    seen: set[Path] = set()
    for path in candidates:
        if path.is_file() and path.resolve() not in seen:
            seen.add(path.resolve())
            name = path.name if path.parent != ctx.layout.run / "nginx" else f"nginx-{path.name}"
            found[name if name not in found else f"{path.parent.name}-{name}"] = path
    return found


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - TAIL_BYTES))
            data = handle.read()
    except OSError as error:
        return f"(cannot read {path}: {error.strerror})\n"
    kept = data.decode(errors="replace").splitlines()[-lines:]
    return f"# last {len(kept)} lines of {path}\n" + "\n".join(kept) + "\n"


def _units(ctx: Context) -> list[str]:
    name = ctx.model["name"]
    return [*(f"{name}@{port}.service" for port in ctx.model["server"]["ports"]), "nginx.service"]


def _journal(unit: str) -> str:
    try:
        done = subprocess.run(["journalctl", "-u", unit, "-n", str(TAIL_LINES), "--no-pager", "-o", "short-iso"],
                              capture_output=True, text=True, timeout=JOURNAL_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return f"(journalctl -u {unit} failed: {error})\n"
    return f"# journalctl -u {unit} -n {TAIL_LINES}\n{done.stdout}{done.stderr}"


def log_clues(files: dict[str, str]) -> list[Clue]:
    """A clue for each sign in LOG_SIGNS, quoting its first line."""
    clues = []
    for pattern, cause, fix in LOG_SIGNS:
        where = [name for name, text in files.items() if pattern.search(text)]
        if where:
            line = next(line for line in files[where[0]].splitlines() if pattern.search(line))
            clues.append(Clue(f"{where[0]} says: {line.strip()[:200]}", cause, f"{fix} (seen in {', '.join(where)})",
                              where[0]))
    return clues
