"""The `swarmdeploy` command: each subcommand parses options, makes one library call, reports."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import click
import yaml

from swarmdeploy import __version__
from swarmdeploy.errors import ProfileError, SwarmdeployError
from swarmdeploy.findings import Finding
from swarmdeploy.profile import check_profile, load_profile
from swarmdeploy.render import render_profile
from swarmdeploy.schema import schema_text
from swarmdeploy.starter import write_starter
from swarmdeploy.targets import TARGETS
from swarmdeploy.templating import MODEL_VARIABLE

PROFILE = click.Path(exists=True, dir_okay=False, path_type=Path)
PIPED_WIDTH = 100  # columns of tables when output is piped (a log, CI): readable there; --json is for machines


def _report(findings: list[Finding]) -> None:
    for finding in findings:
        click.echo(finding.format(), err=True)


# The top-level modules of each optional extra (pyproject's optional-dependencies, and what they pull in),
# to name the extra a command lacks; tests/test_wheel.py keeps it in step with pyproject.
EXTRA_MODULES = {
    "server": ("flask", "flask_socketio", "socketio", "engineio", "gunicorn", "gevent", "packaging",
               "simple_websocket", "redis", "prometheus_client"),
    "verify": ("rich", "websockets", "sslyze", "nassl", "cryptography", "testinfra", "playwright"),
}


def extra_providing(module: str | None) -> str | None:
    top = (module or "").partition(".")[0]
    return next((extra for extra, modules in EXTRA_MODULES.items() if top in modules), None)


class _Group(click.Group):
    """Turns user mistakes into their message and exit code; bugs keep their traceback. A missing
    optional dependency is the user's to install: named with its extra, exit 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ProfileError as error:
            _report(error.findings)
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
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="swarmdeploy")
def main() -> None:
    """Render, deploy and verify a production Flask-SocketIO dashboard from one profile."""


@main.command()
@click.argument("profile", type=PROFILE)
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Bundle directory (default: build/<profile file name>).")
@click.option("-t", "--target", "targets", multiple=True, type=click.Choice(sorted(TARGETS)),
              help="Render only this target (repeatable; default: all).")
@click.option("--force", is_flag=True, help="Replace an output directory that is not a swarmdeploy bundle.")
@click.option("--check", is_flag=True, help="Then run every validator installed here (nginx -t, systemd-analyze, "
                                           "haproxy -c, terraform, cfn-lint) on a scratch copy; exit 1 if one fails.")
def render(profile: Path, output: Path | None, targets: tuple[str, ...], force: bool, check: bool) -> None:
    """Render every layer's config from PROFILE into a bundle directory."""
    result = render_profile(profile, output, list(targets) or None, force)
    _report(result.warnings)
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
@click.argument("profiles", nargs=-1, required=True, type=PROFILE)
def validate(profiles: tuple[Path, ...]) -> None:
    """Check PROFILES and report every problem in each, not just the first."""
    failed = False
    for profile in profiles:
        _, findings = check_profile(profile)
        _report(findings)
        errors = [f for f in findings if f.severity == "error"]
        failed = failed or bool(errors)
        verdict = f"{len(errors)} error(s)" if errors else "valid"
        warnings = len(findings) - len(errors)
        click.echo(f"{profile}: {verdict}" + (f", {warnings} warning(s)" if warnings else ""))
    sys.exit(2 if failed else 0)


@main.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
def schema(output: Path | None) -> None:
    """Print the profile's JSON Schema (draft 2020-12) for editors."""
    if output:
        output.write_text(schema_text(), encoding="utf-8")
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
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("/"), show_default=True,
              help="Without PROFILE or --url: the --root the deployment was installed under.")
def verify(profile: Path | None, url: str | None, origin: str | None, ca_file: Path | None, host_spec: str | None,
           address: str | None, only: tuple[str, ...], soak: float, browser: bool, as_json: bool,
           junit_xml: Path | None, strict: bool, root: Path) -> None:
    """Prove a deployment works end to end; name the fix for every failure.

    Without PROFILE or --url, verifies the last deployment recorded on this host.
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
    target = build_target(profile, url, origin, ca_file, host_spec, soak, browser, root=root.absolute(),
                          address=address)
    results = run_verify(target, list(only) or None)
    if as_json:
        click.echo(json.dumps(report.as_json(results, target.url), indent=2))
    else:
        report.table(results, Console(width=None if sys.stdout.isatty() else PIPED_WIDTH))
    if junit_xml:
        report.write_junit(results, junit_xml)
    failing = {Status.FAIL, Status.WARN} if strict else {Status.FAIL}
    sys.exit(1 if any(r.status in failing for r in results) else 0)


ROOT = click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("/"), show_default=True,
                    help="Install under this directory instead of / (every path of the profile moves under it).")
MANAGER = click.option("--service-manager", type=click.Choice(["systemd", "process"]), default="systemd",
                       show_default=True, help="systemd on real hosts; process where systemd is not PID 1.")


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

    result = run_deploy(profile, DeployOptions(root=root.absolute(), service_manager=service_manager,
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


def _deployment_name(root: Path, name: str | None) -> str:
    from swarmdeploy.deploy.layout import deployments

    if name:
        return name
    found = deployments(root)
    if len(found) != 1:
        raise click.UsageError(f"name the deployment: found {', '.join(found) or 'none'} under {root}")
    return found[0]


def _command(verb: str, name: str, root: Path) -> str:
    """How to type a command for this deployment, for messages that name the next step."""
    return f"swarmdeploy {verb} {name}" + (f" --root {root}" if root != Path("/") else "")


@main.command()
@click.argument("name", required=False)
@ROOT
@click.option("--json", "as_json", is_flag=True)
def status(name: str | None, root: Path, as_json: bool) -> None:
    """The current release, its services and their health, and the last verify result.

    Exits 3 (as `systemctl is-active` does) when nothing is deployed or a service of the current
    release is down.
    """
    from swarmdeploy.deploy.status import DOWN_EXIT_CODE, deployment_status, is_up

    name = _deployment_name(root, name)
    report = deployment_status(root.absolute(), name)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        sys.exit(0 if is_up(report) else DOWN_EXIT_CODE)
    click.echo(f"{report['name']}: release {report['release'] or 'none'} ({report['service_manager']})")
    for row in report["services"]:
        health = row.get("health")
        state = "running" if row["running"] else "STOPPED"
        pid = f" pid {row['pid']}" if row["pid"] else ""
        supervisor = f" (supervisor {row['supervisor']})" if row.get("supervisor") else ""
        detail = f", healthy, {health['clients']} clients" if health else (", no /healthz" if "health" in row else "")
        click.echo(f"  {row['service']:<16} {state}{pid}{supervisor}{detail}")
    last = report["last_verify"]
    click.echo(f"last verify: {last['status']} for release {last['release']}" if last else "last verify: none")
    if report["release"] is None:
        click.echo("nothing deployed", err=True)
    elif report["down"]:
        click.echo(f"down: {', '.join(report['down'])}; start: {_command('start', name, root)}", err=True)
    sys.exit(0 if is_up(report) else DOWN_EXIT_CODE)


@main.command()
@click.argument("name", required=False)
@ROOT
def releases(name: str | None, root: Path) -> None:
    """The releases kept for a deployment, newest last; * marks the current one."""
    from swarmdeploy.deploy.layout import Layout
    from swarmdeploy.deploy.releases import current_release, list_releases

    layout = Layout(root.absolute(), _deployment_name(root, name))
    current = current_release(layout)
    for release in list_releases(layout):
        mark = "*" if current and release.id == current.id else " "
        click.echo(f"{mark} {release.id}  {release.info['created']}  {release.info['profile']}")


@main.command()
@click.argument("release", required=False)
@click.option("--name", help="The deployment (needed when several live under --root).")
@ROOT
@click.option("--service-manager", type=click.Choice(["systemd", "process"]),
              help="Default: the one the release was deployed with.")
def rollback(release: str | None, name: str | None, root: Path, service_manager: str | None) -> None:
    """Make RELEASE (default: the one before the current) current again, restart and verify it."""
    from swarmdeploy.deploy.transaction import rollback as run_rollback

    restored = run_rollback(root.absolute(), _deployment_name(root, name), release, service_manager, click.echo)
    click.echo(f"Release {restored.id} is current and verifies.")


@main.command()
@click.argument("name", required=False)
@ROOT
def start(name: str | None, root: Path) -> None:
    """Start the services of the current release that are not running (systemd: systemctl start)."""
    from swarmdeploy.deploy.operate import start as start_services

    started = start_services(root.absolute(), _deployment_name(root, name), click.echo)
    click.echo(f"Started {', '.join(started)}." if started else "Every service of the current release runs.")


@main.command()
@click.argument("service", required=False)
@click.option("--name", help="The deployment (needed when several live under --root).")
@ROOT
def restart(service: str | None, name: str | None, root: Path) -> None:
    """Restart SERVICE of the current release (as status names it: instance-PORT, nginx, redis), or
    without SERVICE every instance one at a time, then reload nginx (systemd: systemctl restart)."""
    from swarmdeploy.deploy.operate import restart as restart_services

    restart_services(root.absolute(), _deployment_name(root, name), service, click.echo)
    click.echo("Restarted.")


@main.command()
@click.argument("name", required=False)
@ROOT
def stop(name: str | None, root: Path) -> None:
    """Stop the services of a deployment (systemd: systemctl stop NAME.target); start brings them back."""
    from swarmdeploy.deploy.operate import stop as stop_services

    stop_services(root.absolute(), _deployment_name(root, name))
    click.echo("Stopped.")
