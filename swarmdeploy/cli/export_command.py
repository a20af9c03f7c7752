"""`swarmdeploy export [ansible|terraform] PROFILE`: package the profile for another tool."""

from __future__ import annotations

from pathlib import Path

import click

from swarmdeploy.cli.group import PROFILE, main, report_findings
from swarmdeploy.export import EXPORTERS, export_profile


@main.group(invoke_without_command=True)
@click.pass_context
def export(ctx: click.Context) -> None:
    """Package a profile for another tool: an Ansible role, a Terraform root module.

    `swarmdeploy vars PROFILE` gives the same resolved model to any other tool.
    """
    if ctx.invoked_subcommand is None:
        click.echo("Exports (swarmdeploy export NAME PROFILE [-o DIR]):")
        for exporter in EXPORTERS.values():
            click.echo(f"  {exporter.name:<10} {exporter.summary}")


def _command(name: str, summary: str) -> click.Command:
    @click.argument("profile", type=PROFILE)
    @click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
                  help=f"Output directory (default: build/<profile file name>-{name}).")
    @click.option("--force", is_flag=True, help="Replace an output directory that is not a swarmdeploy export.")
    def command(profile: Path, output: Path | None, force: bool) -> None:
        result = export_profile(name, profile, output, force)
        report_findings(result.warnings)
        click.echo(f"Exported {profile} for {name} into {result.directory}/")
        for relative in [*sorted(result.files), "manifest.json"]:
            click.echo(f"  {result.directory / relative}")

    command.__doc__ = f"Write {summary} for PROFILE."
    return click.command(name)(command)


for _exporter in EXPORTERS.values():
    export.add_command(_command(_exporter.name, _exporter.summary))
