"""cfn-lint rules for what cfn-lint does not check in the rendered ALB template: ELBv2 attribute keys and
values, listener TLS policy names, redirect status codes, and the health check timeout against its interval.

    .venv/bin/cfn-lint --append-rules swarmdeploy/cfn_rules -- alb/cloudformation.yaml

(rules_dir() gives the directory in an installed swarmdeploy.) cfn-lint loads every module here whose
name starts with a letter, by path, so cfn-lint must run in a Python where swarmdeploy is installed:
the rule modules import _elbv2 from the package. Modules starting with _ are data
and helpers, not rules. Rule ids are E91xx, a range cfn-lint leaves free.
"""

from __future__ import annotations

from pathlib import Path


def rules_dir() -> Path:
    """The directory to give cfn-lint's --append-rules."""
    return Path(__file__).resolve().parent
