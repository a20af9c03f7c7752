"""The `swarmdeploy` command: each subcommand parses options, makes one library call, reports.

Each command's module is imported when that command runs: registry.py lists them all.
"""

from swarmdeploy.cli.group import main

__all__ = ["main"]
