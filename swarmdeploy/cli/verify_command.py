"""`swarmdeploy verify`: options to a target, the checks, a table or JSON, an exit code."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from swarmdeploy.bundle import check_file_output, write_atomically
from swarmdeploy.cli.group import PIPED_WIDTH, PROFILE, main, root_option

JUNIT_FIX = "choose another --junit-xml path"


@main.command()
@click.argument("profile", type=PROFILE, required=False)
@click.option("--url", help="Public URL to verify (default: the profile's verify.url).")
@click.option("--origin", help="Origin a browser would send (default: the profile's verify.origin).")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Trust this CA bundle instead of the system store.")
@click.option("--host", "host_spec", help="Host to inspect with testinfra: local:// (default) or ssh://user@host.")
@click.option("--address", help="Connect to this IP address instead of resolving the URL's host, which still goes "
                                "in SNI and Host (like curl --resolve): a balancer before DNS points at it.")
@click.option("--only", multiple=True, help="Run only this check (repeatable).")
@click.option("--soak", type=float, default=0.0, help="Hold an idle connection this many seconds.")
@click.option("--browser", is_flag=True, help="Also load the status page in headless Chromium.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--junit-xml", type=click.Path(dir_okay=False, path_type=Path), help="Also write JUnit XML here.")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@root_option("Without PROFILE or --url: the --root the deployment was installed under.")
def verify(profile: Path | None, url: str | None, origin: str | None, ca_file: Path | None, host_spec: str | None,
           address: str | None, only: tuple[str, ...], soak: float, browser: bool, as_json: bool,
           junit_xml: Path | None, strict: bool, root: Path) -> None:
    """Prove a deployment works end to end; name the fix for every failure.

    Without PROFILE or --url, verifies the last deployment recorded on this host. Every argument is
    checked (exit 2) before any check runs, the --junit-xml path too.
    """
    from rich.console import Console

    from swarmdeploy.verify import report
    from swarmdeploy.verify.api import build_target
    from swarmdeploy.verify.api import verify as run_verify
    from swarmdeploy.verify.registry import CHECKS
    from swarmdeploy.verify.result import Status

    unknown = [name for name in only if name not in CHECKS]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)}; choose from {', '.join(CHECKS)}", param_hint="--only")
    if junit_xml:
        check_file_output(junit_xml, JUNIT_FIX)
    target = build_target(profile, url, origin, ca_file, host_spec, soak, browser, root=root, address=address)
    results = run_verify(target, list(only) or None)
    if as_json:
        click.echo(json.dumps(report.as_json(results, target.url), indent=2))
    else:
        report.table(results, Console(width=None if sys.stdout.isatty() else PIPED_WIDTH))
    if junit_xml:
        write_atomically(junit_xml, lambda path: report.write_junit(results, path), JUNIT_FIX)
    failing = {Status.FAIL, Status.WARN} if strict else {Status.FAIL}
    sys.exit(1 if any(r.status in failing for r in results) else 0)
