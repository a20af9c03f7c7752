"""Commands on what is deployed: status, releases, rollback, start, restart, stop."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from swarmdeploy.cli.group import ROOT, main


def _deployment_name(root: Path, name: str | None) -> str:
    """NAME when it is deployed under root (else exit 2, naming those that are), or the only deployment there."""
    from swarmdeploy.deploy.layout import deployments, existing_layout

    if name:
        return existing_layout(root, name).name
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
    release is down; 2 for a NAME not deployed under --root.
    """
    from swarmdeploy.deploy.status import DOWN_EXIT_CODE, deployment_status, is_up

    name = _deployment_name(root, name)
    report = deployment_status(root, name)
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

    layout = Layout(root, _deployment_name(root, name))
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

    restored = run_rollback(root, _deployment_name(root, name), release, service_manager, click.echo)
    click.echo(f"Release {restored.id} is current and verifies.")


@main.command()
@click.argument("name", required=False)
@ROOT
def start(name: str | None, root: Path) -> None:
    """Start the services of the current release that are not running (systemd: systemctl start)."""
    from swarmdeploy.deploy.operate import start as start_services

    started = start_services(root, _deployment_name(root, name), click.echo)
    click.echo(f"Started {', '.join(started)}." if started else "Every service of the current release runs.")


@main.command()
@click.argument("service", required=False)
@click.option("--name", help="The deployment (needed when several live under --root).")
@ROOT
def restart(service: str | None, name: str | None, root: Path) -> None:
    """Restart SERVICE of the current release (as status names it: instance-PORT, nginx, redis), or
    without SERVICE every instance one at a time, then reload nginx (systemd: systemctl restart)."""
    from swarmdeploy.deploy.operate import restart as restart_services

    restart_services(root, _deployment_name(root, name), service, click.echo)
    click.echo("Restarted.")


@main.command()
@click.argument("name", required=False)
@ROOT
def stop(name: str | None, root: Path) -> None:
    """Stop the services of a deployment (systemd: systemctl stop NAME.target); start brings them back."""
    from swarmdeploy.deploy.operate import stop as stop_services

    stop_services(root, _deployment_name(root, name))
    click.echo("Stopped.")
