"""Time of `swarmdeploy render` and `swarmdeploy validate` as a user runs them: a whole new process each time.

    .venv/bin/python benchmarks/render_time.py [PROFILE] [--runs N]

Prints the median wall time and the median CPU time (user + system, from the kernel's accounting of each
finished child): on a shared machine the wall time grows with the load, the CPU time much less.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of argv."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def report(name: str, runs: list[tuple[float, float]]) -> str:
    walls, cpus = [w * 1000 for w, _ in runs], [c * 1000 for _, c in runs]
    return (f"{name}: wall median {statistics.median(walls):.0f} ms (min {min(walls):.0f}, max {max(walls):.0f}), "
            f"CPU median {statistics.median(cpus):.0f} ms, over {len(runs)} runs")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", nargs="?", default=str(REPO / "profiles" / "prod.yaml"))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    command = str(Path(sys.executable).parent / "swarmdeploy")
    with tempfile.TemporaryDirectory() as workdir:
        render = [timed([command, "render", args.profile, "-o", f"{workdir}/bundle"]) for _ in range(args.runs)]
    validate = [timed([command, "validate", args.profile]) for _ in range(args.runs)]
    print(report(f"render {args.profile}", render))
    print(report(f"validate {args.profile}", validate))


if __name__ == "__main__":
    main()
