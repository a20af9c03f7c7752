"""A small supervisor for one service of the process manager (where systemd is not PID 1).

    python -m swarmdeploy.deploy.supervisor PIDDIR NAME STOP_SIGNAL -- COMMAND...

Writes PIDDIR/NAME.pid (itself) and PIDDIR/NAME.child.pid, restarts the command when it dies
unexpectedly (at most RESTARTS times a minute, as systemd's Restart=on-failure with a limit),
and on SIGTERM stops the command with STOP_SIGNAL and exits.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

RESTARTS = 5
WINDOW = 60.0
STOP_TIMEOUT = 15.0


def main(argv: list[str]) -> int:
    piddir, name, stop_signal = Path(argv[0]), argv[1], signal.Signals[argv[2]]
    command = argv[argv.index("--") + 1:]
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
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        child_pid_file.write_text(f"{child.pid}\n")
        try:
            code = child.wait()
        except KeyboardInterrupt:
            code = child.wait()
        if not stopping:
            print(f"supervisor: {name} exited with {code}; restarting", flush=True)
            time.sleep(1)
    try:
        child.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        child.kill()
    child_pid_file.unlink(missing_ok=True)
    (piddir / f"{name}.pid").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
