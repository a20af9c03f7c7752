"""Wall time of `swarmdeploy render` as a user runs it: a whole new process each time.

    .venv/bin/python benchmarks/render_time.py [PROFILE] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", nargs="?", default=str(REPO / "profiles" / "prod.yaml"))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    command = Path(sys.executable).parent / "swarmdeploy"
    times = []
    with tempfile.TemporaryDirectory() as workdir:
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run([command, "render", args.profile, "-o", f"{workdir}/bundle"], check=True,
                           capture_output=True)
            times.append(time.perf_counter() - start)
    print(f"render {args.profile}: median {statistics.median(times) * 1000:.0f} ms over {args.runs} runs "
          f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})")


if __name__ == "__main__":
    main()
