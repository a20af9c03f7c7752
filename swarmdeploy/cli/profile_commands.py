"""Commands on a profile: render, validate, schema, init, vars, serve."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import yaml

from swarmdeploy.bundle import write_file
from swarmdeploy.cli.group import PROFILE, main, report_findings
from swarmdeploy.profile import check_profile, load_profile
from swarmdeploy.schema import schema_text
from swarmdeploy.starter import write_starter
from swarmdeploy.targets import TARGETS

# render_profile and MODEL_VARIABLE are imported inside their commands: they bring jinja2, which validate
# never needs (tests/test_cli_imports.py).


@main.command()
@click.argument("profile", type=PROFILE)
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Bundle directory (default: build/<profile file name>).")
@click.option("-t", "--target", "targets", multiple=True, type=click.Choice(sorted(TARGETS)),
              help="Render only this target (repeatable; default: all).")
@click.option("--force", is_flag=True, help="Replace an output directory that is not a bundle as render left it, "
                                           "deleting what it holds (never /, the current or home directory, or the "
                                           "profile's folder).")
@click.option("--check", is_flag=True, help="Then run every validator installed here (nginx -t, systemd-analyze, "
                                           "haproxy -c, terraform, cfn-lint) on a scratch copy; exit 1 if one fails.")
def render(profile: Path, output: Path | None, targets: tuple[str, ...], force: bool, check: bool) -> None:
    """Render every layer's config from PROFILE into a bundle directory."""
    from swarmdeploy.render import render_profile

    result = render_profile(profile, output, list(targets) or None, force)
    report_findings(result.warnings)
    click.echo(f"Rendered {profile} into {result.directory}/")
    for relative in [*sorted(result.files), "manifest.json"]:
        click.echo(f"  {result.directory / relative}")
    if check:
        from swarmdeploy.validators.report import report_lines
        from swarmdeploy.validators.runner import check_bundle

        checked = check_bundle(result.directory)
        click.echo("\n".join(report_lines(checked, result.directory)))
        sys.exit(1 if checked.failed else 0)


@main.command()
# Not PROFILE: a missing file, a directory or a FIFO is reported as a finding of that file, so one
# bad path never hides the reports of the others.
@click.argument("profiles", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(profiles: tuple[Path, ...]) -> None:
    """Check PROFILES and report every problem in each, not just the first."""
    import traceback

    from swarmdeploy.findings import shown

    failed = crashed = False
    for profile in profiles:
        try:
            _, findings = check_profile(profile)
        except Exception:  # noqa: BLE001  a bug in swarmdeploy: show its traceback, still check the other files
            click.echo(f"{shown(str(profile))}: internal error (a bug in swarmdeploy, please report it):", err=True)
            click.echo(traceback.format_exc(), err=True, nl=False)
            crashed = True
            continue
        report_findings(findings)
        errors = [f for f in findings if f.severity == "error"]
        failed = failed or bool(errors)
        verdict = f"{len(errors)} error(s)" if errors else "valid"
        warnings = len(findings) - len(errors)
        click.echo(f"{shown(str(profile))}: {verdict}" + (f", {warnings} warning(s)" if warnings else ""))
    sys.exit(1 if crashed else 2 if failed else 0)


@main.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
def schema(output: Path | None) -> None:
    """Print the profile's JSON Schema (draft 2020-12) for editors."""
    if output:
        write_file(output, schema_text(), "choose another path, or leave out -o to print the schema")
        click.echo(f"Wrote {output}; point editors at it with: # yaml-language-server: $schema={output}")
    else:
        click.echo(schema_text(), nl=False)


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default="swarmdeploy.yaml")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: Path, force: bool) -> None:
    """Write a commented starter profile to PATH (default swarmdeploy.yaml)."""
    write_starter(path, force)
    click.echo(f"Wrote {path}; edit it, then run: swarmdeploy validate {path}")


@main.command("vars")
@click.argument("profile", type=PROFILE)
@click.option("--format", "output_format", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def vars_(profile: Path, output_format: str) -> None:
    """Print the resolved model: exactly the variables the templates receive."""
    from swarmdeploy.templating import MODEL_VARIABLE

    variables = {MODEL_VARIABLE: load_profile(profile).model}
    if output_format == "json":
        click.echo(json.dumps(variables, indent=2, sort_keys=True))
    else:
        click.echo(yaml.safe_dump(variables, sort_keys=False), nl=False)


@main.command()
@click.argument("profile", type=PROFILE)
@click.option("-i", "--instance", type=int, default=0, show_default=True,
              help="Which instance: it listens on server.base_port + INSTANCE.")
def serve(profile: Path, instance: int) -> None:
    """Run one instance of the server in the foreground, exactly as its systemd unit does."""
    from swarmdeploy.server.serve import serve as run_instance

    run_instance(profile, instance)
