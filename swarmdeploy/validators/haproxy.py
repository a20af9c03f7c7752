"""`haproxy -c`: HAProxy parses the config and loads every certificate and CA file it names."""

from __future__ import annotations

from swarmdeploy.validators.base import Tool, Validator, Verdict, execute
from swarmdeploy.validators.scratch import ScratchCopy
from swarmdeploy.verify.result import Status

CONFIG = "haproxy/haproxy.cfg"


def _check(copy: ScratchCopy, program: str) -> Verdict:
    # -dW: a warning fails too (-c alone passes a config it warns about, and does not check every value).
    result = execute([program, "-dW", "-c", "-f", str(copy.path(CONFIG))])
    if result.returncode == 0:
        return Verdict(Status.PASS)
    said = [line for line in (result.stderr + result.stdout).splitlines() if "[NOTICE]" not in line]  # version banner
    return Verdict(Status.FAIL, "\n".join(said).strip())


HAPROXY_CHECK = Validator("haproxy -c", Tool("haproxy", "apt-get install haproxy"), (CONFIG,), _check)
