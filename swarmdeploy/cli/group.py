"""The `swarmdeploy` command group: how every command's user mistakes, missing extras and piped output are
handled, and the options several commands share."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path

import click

from swarmdeploy import __version__
from swarmdeploy.cli.registry import COMMANDS
from swarmdeploy.errors import EXIT_USAGE, ProfileError, SwarmdeployError
from swarmdeploy.findings import Finding

PROFILE = click.Path(exists=True, dir_okay=False, path_type=Path)
PIPED_WIDTH = 100  # columns of tables when output is piped (a log, CI): readable there; --json is for machines


def report_findings(findings: list[Finding]) -> None:
    for finding in findings:
        click.echo(finding.format(), err=True)


# The top-level modules of each optional extra (pyproject's optional-dependencies, and what they pull in),
# to name the extra a command lacks; tests/test_wheel.py keeps it in step with pyproject.
EXTRA_MODULES = {
    "server": ("flask", "flask_socketio", "socketio", "engineio", "gunicorn", "gevent", "packaging",
               "simple_websocket", "redis", "prometheus_client", "orjson"),
    "verify": ("rich", "websockets", "sslyze", "nassl", "cryptography", "testinfra", "playwright", "aiohttp",
               "uvloop"),
}


def extra_providing(module: str | None) -> str | None:
    top = (module or "").partition(".")[0]
    return next((extra for extra, modules in EXTRA_MODULES.items() if top in modules), None)


class _Group(click.Group):
    """Turns user mistakes into their message and exit code (errors.py lists them); bugs keep their traceback.
    A missing optional dependency is the user's to install: named with its extra, exit 2.
    Commands load lazily from registry.COMMANDS: a command imports only its own module."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(f"swarmdeploy.cli.{COMMANDS[cmd_name]}")  # its decorators register it on main
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ProfileError as error:
            report_findings(error.findings)
            errors = sum(1 for f in error.findings if f.severity == "error")
            click.echo(f"{errors} error(s); nothing was written.", err=True)
            sys.exit(error.exit_code)
        except SwarmdeployError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(error.exit_code)
        except ModuleNotFoundError as error:
            extra = extra_providing(error.name)
            if extra is None:
                raise
            click.echo(f"error: swarmdeploy {ctx.invoked_subcommand} needs {error.name}, from the {extra} extra: "
                       f"pip install 'swarmdeploy[{extra}]'", err=True)
            sys.exit(EXIT_USAGE)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="swarmdeploy")
def main() -> None:
    """Render, deploy and verify a production Flask-SocketIO dashboard from one profile."""


def _root(_ctx: click.Context, _param: click.Parameter, root: Path) -> Path:
    from swarmdeploy.deploy.layout import checked_root  # deferred: render and validate never need deploy's modules

    return checked_root(root)


def root_option(help_text: str) -> Callable[[Callable], Callable]:
    """--root, absolute and refused (exit 2) unless every profile path can be placed under it."""
    return click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("/"),
                        show_default=True, callback=_root, help=help_text)


ROOT = root_option("Install under this directory instead of / (every path of the profile moves under it).")
MANAGER = click.option("--service-manager", type=click.Choice(["systemd", "process"]), default="systemd",
                       show_default=True, help="systemd on real hosts; process where systemd is not PID 1.")
