"""`nginx -t`: nginx parses the main config and the site it includes, and loads the certificates they name."""

from __future__ import annotations

from swarmdeploy.validators.base import Tool, Validator, Verdict, execute
from swarmdeploy.validators.scratch import ScratchCopy
from swarmdeploy.verify.result import Status


def _test(copy: ScratchCopy, program: str) -> Verdict:
    # A prefix in the scratch dir for nginx's temp dirs; the copy's pid file and logs point there already.
    result = execute([program, "-p", f"{copy.runtime}/", "-c", str(copy.path("nginx/nginx.conf")),
                      "-e", str(copy.runtime / "startup.log"), "-t"])
    return Verdict(Status.PASS) if result.returncode == 0 else Verdict(Status.FAIL, result.stderr.strip())


NGINX_TEST = Validator("nginx -t", Tool("nginx", "apt-get install nginx"), ("nginx/*.conf",), _test)
