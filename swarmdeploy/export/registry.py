"""Every exporter in one place: what it packages, and which profiles it applies to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from swarmdeploy.export.ansible import ansible_files
from swarmdeploy.export.terraform import terraform_files
from swarmdeploy.model import Model


@dataclass(frozen=True)
class Exporter:
    name: str
    summary: str
    files: Callable[[Model], dict[str, str]]  # export-relative path -> content
    applies_to: Callable[[Model], bool] = lambda _model: True
    requirement: str = ""  # what a profile needs for this exporter, said when it does not apply


EXPORTERS: dict[str, Exporter] = {
    exporter.name: exporter
    for exporter in (
        Exporter("ansible", "a role installing the systemd units, environment file and nginx site, with an example "
                            "playbook (and inventory of load_balancer.hosts)", ansible_files),
        Exporter("terraform", "the ALB module, an example root module including it and terraform.tfvars.json",
                 terraform_files, lambda model: model["load_balancer"]["kind"] == "alb", "load_balancer.kind: alb"),
    )
}
