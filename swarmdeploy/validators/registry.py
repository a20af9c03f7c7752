"""Every validator of every render target in one place, in the order they run."""

from __future__ import annotations

from swarmdeploy.validators import cfn_lint, haproxy, nginx, promtool, systemd, terraform
from swarmdeploy.validators.base import Validator

VALIDATORS: dict[str, tuple[Validator, ...]] = {
    "nginx": (nginx.NGINX_TEST,),
    "systemd": (systemd.UNITS_VERIFY, systemd.SECURITY),
    "haproxy": (haproxy.HAPROXY_CHECK,),
    "alb": (terraform.FMT_CHECK, terraform.VALIDATE, cfn_lint.CFN_LINT),
    "monitoring": (promtool.CHECK_CONFIG, promtool.CHECK_RULES),
}
