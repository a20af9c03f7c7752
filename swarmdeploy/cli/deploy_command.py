"""`swarmdeploy deploy`: the transaction, its progress for people, and the verify table."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import click

from swarmdeploy.cli.group import MANAGER, PIPED_WIDTH, PROFILE, ROOT, main


@main.command()
@click.argument("profile", type=PROFILE)
@ROOT
@MANAGER
@click.option("--dry-run", is_flag=True, help="Validate, render, preflight and show the plan; change nothing.")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A private CA that signed tls.certificate, trusted by deploy's verify (default: verify.ca_file).")
@click.option("--no-verify", is_flag=True, help="Do not verify after applying.")
@click.option("--no-rollback", is_flag=True, help="Keep a failed release current instead of restoring the previous.")
@click.option("--yes", is_flag=True, help="Apply the plan without asking.")
@click.option("--force", is_flag=True, help="Deploy even when nothing changed since the current release.")
def deploy(profile: Path, root: Path, service_manager: str, dry_run: bool, ca_file: Path | None, no_verify: bool,
           no_rollback: bool, yes: bool, force: bool) -> None:
    """Install PROFILE's release, start it, verify it, and roll back if verification fails.

    When the current release already has the same files and model, nothing is deployed (services that
    are down are started); --force deploys it again.
    """
    from rich.console import Console
    from rich.text import Text

    from swarmdeploy.deploy.transaction import DeployOptions
    from swarmdeploy.deploy.transaction import deploy as run_deploy
    from swarmdeploy.verify import report

    def confirm(_plan) -> bool:
        return yes or click.confirm("Apply this plan?", default=False)

    console = Console(width=None if sys.stdout.isatty() else PIPED_WIDTH, highlight=False)

    def show(results) -> None:
        report.table(results, console)

    def progress(line: str) -> None:
        step, _, message = line.partition("] ")
        style = "bold red" if step in ("[failed", "[rollback") else "bold cyan"
        wrapped = _wrap(f"{step}] {message}", console.width)
        console.print(Text.assemble((f"{step}]", style), wrapped[len(step) + 1:]), soft_wrap=True)

    result = run_deploy(profile, DeployOptions(root=root, service_manager=service_manager,
                                               dry_run=dry_run, verify=not no_verify, rollback=not no_rollback,
                                               force=force, confirm=confirm, echo=progress, show_results=show,
                                               ca_file=ca_file.absolute() if ca_file else None))
    if result.release and not result.unchanged:
        click.echo(f"Deployed release {result.release.id}.")


def _wrap(text: str, width: int) -> str:
    """Each line wrapped at spaces with a hanging indent; a word longer than the width (a path) stays whole,
    so it can still be copied and searched for."""
    lines = []
    for line in text.splitlines():
        indent = line[:len(line) - len(line.lstrip())] + "    "
        lines += textwrap.wrap(line, width, subsequent_indent=indent, break_long_words=False,
                               break_on_hyphens=False) or [line]
    return "\n".join(lines)
