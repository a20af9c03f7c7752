"""The `swarmdeploy` command: each subcommand parses options, makes one library call, reports.

Importing the command modules registers their commands on `main`.
"""

from swarmdeploy.cli import deploy_command, operate_commands, profile_commands, verify_command  # noqa: F401
from swarmdeploy.cli import export_command  # noqa: F401
from swarmdeploy.cli.group import main

__all__ = ["main"]
