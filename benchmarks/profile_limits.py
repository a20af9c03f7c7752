"""Wall time of `swarmdeploy validate` on profiles at the limits of swarmdeploy/limits.py, as a user
runs it: a whole new process each time, median of N runs. Then, in this process, where the time of
one check goes: the loader (YAML to data), the JSON Schema, the cross-field rules.

    .venv/bin/python benchmarks/profile_limits.py [--runs N]

tests/test_loader_hostile.py runs the same cases with a loose bound; the figures are here.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from swarmdeploy.limits import MAX_DEPTH, MAX_FILE_BYTES

PROFILE_HEAD = """name: dash
socketio:
  cors_allowed_origins: [https://dash.example.com]
tls:
  certificate: /etc/ssl/dash/fullchain.pem
  certificate_key: /etc/ssl/dash/privkey.pem
site:
  server_names:
"""


def server_names(count: int) -> bytes:
    return (PROFILE_HEAD + "".join(f"    - host{i}.example.com\n" for i in range(count))).encode()


def one_megabyte() -> bytes:
    """As many server names as fit in 1,000,000 bytes (about 36,000): under the 1 MiB limit, so it is read."""
    text = server_names(40_000)[:1_000_000]
    return text[: text.rindex(b"\n") + 1]


def past_size_limit() -> bytes:
    return b"# padding\n" * (MAX_FILE_BYTES // 10 + 1)


def alias_bomb() -> bytes:
    """A "billion laughs": nine lists of nine aliases of the one before, 9^9 values once expanded."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    return ("\n".join(lines) + "\n").encode()


def nesting_past_limit() -> bytes:
    """The profile's mapping, then lists inside each other: one level more than MAX_DEPTH."""
    return ("name: dash\nnested: " + "[" * MAX_DEPTH + "x" + "]" * MAX_DEPTH + "\n").encode()


# name -> (the profile's bytes, the exit code validate must give)
CASES: dict[str, tuple[Callable[[], bytes], int]] = {
    "1 MB profile (36,000 server names)": (one_megabyte, 2),
    "5,000 server names": (lambda: server_names(5_000), 2),
    "1 MiB + 10 bytes (refused unread)": (past_size_limit, 2),
    f"alias bomb ({len(alias_bomb())} bytes)": (alias_bomb, 2),
    f"nesting {MAX_DEPTH + 1} levels deep": (nesting_past_limit, 2),
}


def validate_seconds(command: Path, profile: Path) -> tuple[float, int]:
    start = time.perf_counter()
    result = subprocess.run([command, "validate", profile], capture_output=True, check=False)
    return time.perf_counter() - start, result.returncode


def stages(profile: Path) -> str:
    """Seconds of one check in this process, split by stage."""
    from swarmdeploy.profile import check_profile
    from swarmdeploy.validation import schema_findings
    from swarmdeploy.yaml_source import load_yaml

    start = time.perf_counter()
    document, findings = load_yaml(profile)
    load = time.perf_counter() - start
    start = time.perf_counter()
    if not findings and isinstance(document.data, dict):
        schema_findings(document)
    schema = time.perf_counter() - start
    start = time.perf_counter()
    check_profile(profile)  # loads and checks the schema again, then runs the rules
    rules = max(time.perf_counter() - start - load - schema, 0.0)
    return f"load {load:.3f} s, schema {schema:.3f} s, rules {rules:.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    command = Path(sys.executable).parent / "swarmdeploy"
    with tempfile.TemporaryDirectory() as workdir:
        for name, (make, _) in CASES.items():
            profile = Path(workdir) / "profile.yaml"
            profile.write_bytes(make())
            runs = [validate_seconds(command, profile) for _ in range(args.runs)]
            times = [seconds for seconds, _ in runs]
            print(f"{name:38} exit {runs[0][1]}  median {statistics.median(times):.2f} s over {args.runs} runs "
                  f"(min {min(times):.2f}, max {max(times):.2f}); in process: {stages(profile)}")


if __name__ == "__main__":
    main()
