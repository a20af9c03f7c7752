"""systemd-analyze: `verify` loads the instance units and the target as systemd would, and `security
--offline` rates the service's exposure against a threshold."""

from __future__ import annotations

import os
import re

from swarmdeploy.validators.base import Tool, Validator, Verdict, execute
from swarmdeploy.validators.scratch import ScratchCopy
from swarmdeploy.verify.result import Status

SYSTEMD_ANALYZE = Tool("systemd-analyze", "apt-get install systemd")
MAX_EXPOSURE = 2.0  # on the 0-10 scale systemd prints; the rendered unit rates 1.2
_OVERALL = re.compile(r"Overall exposure level for \S+: ([0-9.]+)")


def _verify(copy: ScratchCopy, program: str) -> Verdict:
    name = copy.model["name"]
    units = [f"{name}@{port}.service" for port in copy.model["server"]["ports"]] + [f"{name}.target"]
    # The trailing colon keeps systemd's own unit dirs on the path, for the units ours name.
    result = execute([program, "verify", *units], env={**os.environ, "SYSTEMD_UNIT_PATH": f"{copy.path('systemd')}:"})
    # verify exits 0 for unknown keys and says so only on stderr (FACTS §4): any word is a failure.
    if result.returncode == 0 and not result.stderr:
        return Verdict(Status.PASS)
    return Verdict(Status.FAIL, (result.stderr or result.stdout).strip())


def _security(copy: ScratchCopy, program: str) -> Verdict:
    service = copy.path(f"systemd/{copy.model['name']}@.service")
    # --threshold is on a 0-100 scale.
    result = execute([program, "security", "--offline=true", f"--threshold={round(MAX_EXPOSURE * 10)}", str(service)])
    overall = _OVERALL.search(result.stdout)
    if result.returncode == 0 and overall:
        return Verdict(Status.PASS, f"exposure {overall.group(1)} (threshold {MAX_EXPOSURE})")
    # The settings that cost exposure (✗ rows) and the overall line, in the tool's own words.
    lines = [line.rstrip() for line in result.stdout.splitlines() if line.startswith("✗") or "Overall" in line]
    return Verdict(Status.FAIL, "\n".join([*lines, result.stderr.strip()]).strip())


UNITS_VERIFY = Validator("systemd-analyze verify", SYSTEMD_ANALYZE, ("systemd/*.service", "systemd/*.target"),
                         _verify)
SECURITY = Validator("systemd-analyze security", SYSTEMD_ANALYZE, ("systemd/*@.service",), _security)
