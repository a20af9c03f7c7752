"""Wall time of `swarmdeploy deploy` and `swarmdeploy rollback` (whole processes) for the local demo
profile with the process manager, on free loopback ports under a temporary root.

    .venv/bin/python benchmarks/deploy_time.py [--runs N]

Each deploy changes the configuration (ping_interval alternates), so every run renders, preflights,
installs a new release, restarts both instances one at a time, reloads nginx and verifies.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from deploy_support import local_deployment, run  # noqa: E402 - the tests' helpers place the demo profile


def timed(action) -> float:
    start = time.perf_counter()
    result = action()
    assert result.returncode == 0, result.stdout + result.stderr
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        local = local_deployment(Path(workdir))
        try:
            first = timed(local.deploy)
            deploys, rollbacks = [], []
            for number in range(args.runs):
                changed = local.write(socketio={"ping_interval": 24 if number % 2 else 23})
                deploys.append(timed(lambda changed=changed: local.deploy(profile=changed)))
                rollbacks.append(timed(lambda: run("rollback", "--root", str(local.root),
                                                   "--service-manager", "process")))
        finally:
            local.stop()
    print(f"first deploy (starts redis, nginx, 2 instances): {first:.2f} s")
    print(f"deploy   median {statistics.median(deploys):.2f} s over {args.runs} (min {min(deploys):.2f}, "
          f"max {max(deploys):.2f})")
    print(f"rollback median {statistics.median(rollbacks):.2f} s over {args.runs} (min {min(rollbacks):.2f}, "
          f"max {max(rollbacks):.2f})")


if __name__ == "__main__":
    main()
