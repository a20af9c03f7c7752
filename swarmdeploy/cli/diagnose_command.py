"""`swarmdeploy diagnose`: options to the library call, the likely problems and where the archive went."""

from __future__ import annotations

from pathlib import Path

import click

from swarmdeploy.cli.group import PROFILE, main, root_option


@main.command()
@click.argument("profile", type=PROFILE, required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The archive to write, FILE.tar.gz (default: swarmdeploy-diagnose-NAME-TIME.tar.gz here).")
@click.option("--name", help="The deployment (needed when several live under --root and no PROFILE names one).")
@click.option("--no-verify", is_flag=True, help="Do not run verify now (the recorded result is included anyway).")
@root_option("The --root the deployment was installed under.")
def diagnose(profile: Path | None, output: Path | None, name: str | None, no_verify: bool, root: Path) -> None:
    """Collect what a bug report or a support request needs into one archive, secrets kept out: versions, the
    profile and model, deployed files against their render, verify now and as recorded, service logs, limits,
    listening sockets, and a SUMMARY.txt naming the likely problem.

    Exits 0 when the archive is written (whatever it found), 2 for bad arguments or an output path that
    cannot be written, 1 when it would have held a secret (then nothing is written).
    """
    from swarmdeploy.diagnose.api import diagnose as run_diagnose

    result = run_diagnose(profile, root, output, name, fresh_verify=not no_verify)
    for number, clue in enumerate(dict.fromkeys(clue.problem for clue in result.clues), 1):
        click.echo(f"likely problem {number}: {clue}")
    if not result.clues:
        click.echo("no problem found")
    click.echo(f"wrote {result.path} ({result.size / 1024:.1f} KiB, {len(result.files)} files): "
               f"start with SUMMARY.txt")
