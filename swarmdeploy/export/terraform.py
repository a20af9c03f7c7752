"""`export terraform`: the alb target's Terraform module, an example root module including it, and a
terraform.tfvars.json from the profile. Layout of the export:

    alb/                   the module, exactly as `swarmdeploy render` writes alb/terraform/
    versions.tf, main.tf,  the root module (static: terraform_root/), passing every variable through
    variables.tf, outputs.tf
    terraform.tfvars.json  the hosts as ip targets; placeholders for what only the AWS account knows
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from swarmdeploy.model import Model
from swarmdeploy.render import render_files

MODULE = "alb"
RENDERED_MODULE = "alb/terraform/"  # where the alb target puts the module in a rendered bundle
# What the profile cannot know. Each fails its variable's validation (upper case, no ID prefix, not an
# ARN), so `terraform plan` refuses until every one is replaced.
PLACEHOLDERS = {
    "region": "REPLACE-ME-aws-region",
    "vpc_id": "REPLACE-ME-vpc-id",
    "subnet_ids": ["REPLACE-ME-subnet-id-in-one-zone", "REPLACE-ME-subnet-id-in-another-zone"],
    "security_group_ids": ["REPLACE-ME-security-group-id"],
    "certificate_arn": "REPLACE-ME-certificate-arn",
    "access_logs_bucket": "REPLACE-ME-access-logs-bucket",
}


def _root_module() -> dict[str, str]:
    base = Path(str(resources.files("swarmdeploy.export"))) / "terraform_root"
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(base.glob("*.tf"))}


def tfvars(model: Model) -> dict[str, Any]:
    """The root module's values: the profile's hosts as ip targets (none: an Auto Scaling group registers them)."""
    addresses = [host["address"] for host in model["load_balancer"]["hosts"]]
    return {**PLACEHOLDERS, **({"target_type": "ip"} if addresses else {}), "target_ids": addresses}


def terraform_files(model: Model) -> dict[str, str]:
    module = {f"{MODULE}/{path.removeprefix(RENDERED_MODULE)}": text
              for path, text in render_files(model, ["alb"]).items() if path.startswith(RENDERED_MODULE)}
    return {**module, **_root_module(), "terraform.tfvars.json": json.dumps(tfvars(model), indent=2) + "\n"}
