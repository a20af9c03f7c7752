"""Time of a full `swarmdeploy verify` (no soak, no browser) against a healthy local stack, per check.

    .venv/bin/python benchmarks/verify_time.py [--runs N]

The stack is the verify tests' healthy one: Redis, two instances from the rendered units, nginx
with TLS from a private CA, all on loopback. Each run is a whole `swarmdeploy verify` process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from server_stack import Supervisor  # noqa: E402 - the tests' harness starts the same stack
from verify_stack import Scenario, deploy  # noqa: E402

from swarmdeploy.deploy.layout import Layout  # noqa: E402
from swarmdeploy.verify.record import write_record  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        supervisor = Supervisor(Path(workdir))
        try:
            target = deploy(Path(workdir), supervisor, Scenario("healthy")).target
            root = Path(workdir) / "root"
            write_record(Layout(root, target.model["name"]).state_root, target)
            walls, per_check = [], {}
            for _ in range(args.runs):
                start = time.perf_counter()
                result = subprocess.run([Path(sys.executable).parent / "swarmdeploy", "verify", "--json", "--root",
                                         str(root)], capture_output=True, text=True,
                                        env={"PATH": "/usr/sbin:/usr/bin:/bin"})
                walls.append(time.perf_counter() - start)
                report = json.loads(result.stdout)
                assert report["status"] == "pass", result.stdout
                for check in report["checks"]:
                    per_check.setdefault(check["check"], []).append(check["seconds"])
        finally:
            supervisor.stop_all()
    print(f"full verify (whole process, {args.runs} runs): median {statistics.median(walls):.2f} s "
          f"(min {min(walls):.2f}, max {max(walls):.2f})")
    for name, seconds in per_check.items():
        print(f"  {name:<13} median {statistics.median(seconds) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
