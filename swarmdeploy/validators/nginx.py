"""`nginx -t`: nginx parses the main config and the site it includes, and loads the certificates they name."""

from __future__ import annotations

from pathlib import Path

from swarmdeploy.validators.base import Tool, Validator, Verdict, execute
from swarmdeploy.validators.scratch import ScratchCopy
from swarmdeploy.verify.result import Status


def nginx_argv(program: str, prefix: Path, config: Path, startup_log: Path) -> list[str]:
    """nginx with a prefix of its own: how deploy's process manager starts it and how `nginx -t` tests it,
    one command line so that a test passes only what starts. -e takes what nginx says before it opens the
    config's error_log."""
    return [program, "-p", f"{prefix}/", "-c", str(config), "-e", str(startup_log)]


def _test(copy: ScratchCopy, program: str) -> Verdict:
    # A prefix in the scratch dir for nginx's temp dirs; the copy's pid file and logs point there already.
    argv = nginx_argv(program, copy.runtime, copy.path("nginx/nginx.conf"), copy.runtime / "startup.log")
    result = execute([*argv, "-t"])
    return Verdict(Status.PASS) if result.returncode == 0 else Verdict(Status.FAIL, result.stderr.strip())


NGINX_TEST = Validator("nginx -t", Tool("nginx", "apt-get install nginx"), ("nginx/*.conf",), _test)
