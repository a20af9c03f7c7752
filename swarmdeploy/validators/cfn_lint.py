"""cfn-lint on the CloudFormation template, with swarmdeploy's own rules appended: cfn-lint alone
checks neither ELBv2 attribute keys and values nor SslPolicy names (FACTS §4)."""

from __future__ import annotations

from pathlib import Path

from swarmdeploy.validators.base import Tool, Validator, Verdict, execute
from swarmdeploy.validators.scratch import ScratchCopy
from swarmdeploy.verify.result import Status

TEMPLATE = "alb/cloudformation.yaml"
# The rules import swarmdeploy: Tool.find prefers the cfn-lint installed beside this swarmdeploy.
RULES = Path(__file__).resolve().parent.parent / "cfn_rules"


def _lint(copy: ScratchCopy, program: str) -> Verdict:
    appended = ["--append-rules", str(RULES)] if RULES.is_dir() else []
    # From the bundle root, so the tool names the file as the report does.
    result = execute([program, *appended, "--", TEMPLATE], cwd=copy.root)
    if result.returncode != 0:  # errors and warnings alike
        return Verdict(Status.FAIL, (result.stdout + result.stderr).strip())
    return Verdict(Status.PASS, "" if appended else f"cfn-lint's own rules only: no project rules at {RULES}")


CFN_LINT = Validator("cfn-lint", Tool("cfn-lint", "pip install cfn-lint"), (TEMPLATE,), _lint)
