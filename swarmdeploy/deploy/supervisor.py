"""A small supervisor for one service of the process manager (where systemd is not PID 1).

    python -m swarmdeploy.deploy.supervisor PIDDIR NAME STOP_SIGNAL [--env-file [-]PATH]... -- COMMAND...

Writes PIDDIR/NAME.pid (itself) and PIDDIR/NAME.child.pid; starts the command with its own environment
plus the KEY=VALUE lines of each env file, read again at every start as systemd reads EnvironmentFile=
(a leading "-": skipped when missing); restarts the command when it dies unexpectedly (at most RESTARTS
times a minute, as systemd's Restart=on-failure with a limit); on SIGTERM stops the command with
STOP_SIGNAL and exits. The command also gets STOP_SIGNAL when the supervisor dies, even by SIGKILL, so no
orphan keeps the service's port.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from swarmdeploy.server.config import parse_env_file

RESTARTS = 5
WINDOW = 60.0
STOP_TIMEOUT = 15.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _environment(env_files: list[str]) -> dict[str, str]:
    """Later files win over earlier ones and over the inherited environment, as in systemd."""
    env = dict(os.environ)
    for entry in env_files:
        try:
            env.update(parse_env_file(Path(entry.removeprefix("-")).read_text()))
        except FileNotFoundError:
            if not entry.startswith("-"):
                raise
    return env


def _stop_with_supervisor(stop_signal: signal.Signals) -> Callable[[], None]:
    """Run in the child before exec: the kernel sends it stop_signal when the supervisor dies."""
    supervisor = os.getpid()
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def prepare() -> None:
        prctl(PR_SET_PDEATHSIG, int(stop_signal))
        if os.getppid() != supervisor:  # it died before prctl took effect: nobody would signal us
            os._exit(1)

    return prepare


def _arguments(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="swarmdeploy.deploy.supervisor")
    parser.add_argument("piddir", type=Path)
    parser.add_argument("name")
    parser.add_argument("stop_signal", type=lambda name: signal.Signals[name])
    parser.add_argument("--env-file", action="append", default=[])
    split = argv.index("--")
    return parser.parse_args(argv[:split]), argv[split + 1:]


def main(argv: list[str]) -> int:
    args, command = _arguments(argv)
    piddir, name, stop_signal = args.piddir, args.name, args.stop_signal
    # One supervisor per service, even when a killed deploy left one starting: the first holds the lock.
    lock = (piddir / f"{name}.lock").open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"supervisor: {name} is already supervised", flush=True)
        return 0
    (piddir / f"{name}.pid").write_text(f"{os.getpid()}\n")
    child_pid_file = piddir / f"{name}.child.pid"
    stopping = False
    child: subprocess.Popen | None = None

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child and child.poll() is None:
            child.send_signal(stop_signal)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    starts: list[float] = []
    while not stopping:
        starts = [t for t in starts if time.monotonic() - t < WINDOW] + [time.monotonic()]
        if len(starts) > RESTARTS:
            print(f"supervisor: {name} failed {RESTARTS} times within {WINDOW:.0f} s; giving up", flush=True)
            return 1
        try:
            child = subprocess.Popen(command, stdin=subprocess.DEVNULL, env=_environment(args.env_file),
                                     preexec_fn=_stop_with_supervisor(stop_signal))
        except OSError as error:  # a missing env file or program counts as a failed start
            print(f"supervisor: {name} did not start: {error}", flush=True)
            time.sleep(1)
            continue
        child_pid_file.write_text(f"{child.pid}\n")
        try:
            code = child.wait()
        except KeyboardInterrupt:
            code = child.wait()
        if not stopping:
            print(f"supervisor: {name} exited with {code}; restarting", flush=True)
            time.sleep(1)
    if child:
        try:
            child.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            child.kill()
    child_pid_file.unlink(missing_ok=True)
    (piddir / f"{name}.pid").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
