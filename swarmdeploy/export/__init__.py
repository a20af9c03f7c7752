"""Exports wrap the same templates and the same resolved model in the layout another tool expects (an
Ansible role, a Terraform root module). They package; they never hold a second copy of a template."""

from swarmdeploy.export.api import ExportResult, export_profile
from swarmdeploy.export.registry import EXPORTERS

__all__ = ["EXPORTERS", "ExportResult", "export_profile"]
