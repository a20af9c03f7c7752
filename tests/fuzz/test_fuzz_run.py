"""A short run of the coverage-guided fuzz target (scripts/fuzz), as CI runs it: it fails on any
crash, any input over the per-input timeout, and any traceback."""

from __future__ import annotations

import re
import subprocess

from conftest import REPO, require_module

SECONDS = 25


def test_a_short_fuzzing_run_finds_no_crash_hang_or_traceback() -> None:
    require_module("atheris")
    result = subprocess.run([REPO / "scripts" / "fuzz", str(SECONDS)], capture_output=True, text=True,
                            timeout=SECONDS + 180, check=False)
    output = result.stdout + result.stderr
    done = re.search(r"^Done (\d+) runs", output, re.MULTILINE)
    assert result.returncode == 0 and done, output[-6000:]
    assert "Traceback" not in output, output[-6000:]
    assert int(done[1]) >= 1000, f"only {done[1]} inputs in {SECONDS} s:\n{output[-3000:]}"
