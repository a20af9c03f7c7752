"""`swarmdeploy bench`: options to a target and steps, the probe, a line a step and the capacity (or JSON)."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

import click

from swarmdeploy.cli.group import PROFILE, main, root_option

MAX_CLIENTS = 25_000  # one source address has ~28,000 ephemeral ports (ip_local_port_range) for a remote host


def _clients(_ctx: click.Context, _param: click.Parameter, values: tuple[int, ...]) -> tuple[int, ...]:
    wrong = [value for value in values if not 1 <= value <= MAX_CLIENTS]
    if wrong:
        raise click.BadParameter(f"{wrong[0]} is not from 1 to {MAX_CLIENTS:,}")
    return tuple(sorted(set(values)))


def _up_to(most: float, unit: str) -> Callable[[click.Context, click.Parameter, float], float]:
    def check(_ctx: click.Context, _param: click.Parameter, value: float) -> float:
        if not (math.isfinite(value) and 0 < value <= most):
            raise click.BadParameter(f"{value} is not a number of {unit} above 0 and at most {most:g}")
        return value

    return check


@main.command()
@click.argument("profile", type=PROFILE, required=False)
@click.option("--url", help="Public URL to load (default: the profile's verify.url).")
@click.option("--clients", type=int, multiple=True, callback=_clients,
              help="Clients at one step (repeatable; default 100, 500, 1000, 2500, 5000).")
@click.option("--duration", type=float, default=10.0, show_default=True, callback=_up_to(3600, "seconds"),
              help="Measured seconds per step.")
@click.option("--ramp", type=float, default=500.0, show_default=True, callback=_up_to(10_000, "connections a second"),
              help="New connections a second.")
@click.option("--p99-ms", type=float, default=150.0, show_default=True, callback=_up_to(600_000, "milliseconds"),
              help="A step whose round-trip p99 is above this breaks (the guide's 'Good' band).")
@click.option("--max-lost-pongs", type=click.IntRange(min=0), default=0, show_default=True,
              help="A step that loses more pongs breaks.")
@click.option("--max-failed", type=click.IntRange(min=0), default=0, show_default=True,
              help="A step where more clients fail to connect or are dropped breaks.")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Trust this CA bundle (default: the profile's verify.ca_file, or the deployment's CA).")
@click.option("--i-own-this-host", "own_host", is_flag=True,
              help="Allow more than 50 clients against a host that is not this machine's loopback.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
@root_option("Without PROFILE or --url: the --root the deployment was installed under.")
def bench(profile: Path | None, url: str | None, clients: tuple[int, ...], duration: float, ramp: float,
          p99_ms: float, max_lost_pongs: int, max_failed: int, ca_file: Path | None, own_host: bool, as_json: bool,
          root: Path) -> None:
    """Ramp WebSocket clients through the public URL, each pinging once a second, until a step breaks a
    threshold; print each step's round trips, lost pongs, the load client's CPU and (instances on this
    machine) server CPU and memory per connection, then the capacity measured.

    Exits 0 when every step held, 1 when one broke a threshold, 2 for bad arguments (more than 50 clients
    against another host without --i-own-this-host, before any connection).
    """
    # The verify extra's rich and aiohttp: a missing one is named with its extra (cli/group.py).
    from rich.console import Console

    from swarmdeploy.bench.probe import DEFAULT_STEPS, Settings, Step, Thresholds, run
    from swarmdeploy.bench.progress import ProgressBar
    from swarmdeploy.bench.report import as_json as json_report
    from swarmdeploy.bench.report import capacity, client_warning, machine_line, step_line
    from swarmdeploy.bench.target import bench_target

    target = bench_target(profile, url, root, ca_file)
    settings = Settings(steps=clients or DEFAULT_STEPS, duration=duration, ramp=ramp, own_host=own_host,
                        thresholds=Thresholds(p99_ms, max_lost_pongs, max_failed))
    console = Console(stderr=True)

    def started(processes: int) -> None:
        if not as_json:
            click.echo(f"bench {target.url}: {', '.join(f'{n:,}' for n in settings.steps)} clients, {duration:g} s "
                       f"each, p99 threshold {p99_ms:g} ms; load client: {processes} process(es)")

    def finished(step: Step) -> None:
        if not as_json:
            click.echo(step_line(step))

    with ProgressBar(console, as_json or not console.is_terminal, started, finished) as bar:
        result = run(target, settings, bar)
    if as_json:
        click.echo(json.dumps(json_report(result), indent=2))
    else:
        click.echo(machine_line(result))
        warning = client_warning(result)
        if warning:
            click.echo(f"warning: {warning}")
        click.echo(capacity(result))
    sys.exit(1 if result.broke else 0)
