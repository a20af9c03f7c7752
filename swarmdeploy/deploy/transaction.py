"""The deploy transaction: render, preflight, plan, install, apply, verify; on a failure after
install, restore the previous release, restart it, verify it, and say both outcomes."""

from __future__ import annotations

import datetime
import fcntl
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from swarmdeploy import __version__
from swarmdeploy.bundle import manifest
from swarmdeploy.deploy.certificates import create_self_signed
from swarmdeploy.deploy.journal import Journal
from swarmdeploy.deploy.layout import Layout
from swarmdeploy.deploy.managers import apply_release, stop_release
from swarmdeploy.deploy.plan import Plan, make_plan
from swarmdeploy.deploy.preflight import preflight
from swarmdeploy.deploy.releases import (Release, current_release, list_releases, new_release_id,
                                         remove_stale_staging, store_release, switch_current)
from swarmdeploy.deploy.rooted import deploy_profile
from swarmdeploy.deploy.verification import describe_failures, failed, verify_release
from swarmdeploy.errors import SwarmdeployError
from swarmdeploy.render import render_files


class DeployError(SwarmdeployError):
    """The deploy did not end with a verified new release."""


class DeployLocked(SwarmdeployError):
    exit_code = 3


@dataclass(frozen=True)
class DeployOptions:
    root: Path = Path("/")
    service_manager: str = "systemd"
    dry_run: bool = False
    verify: bool = True
    rollback: bool = True
    confirm: Callable[[Plan], bool] = lambda _plan: True
    echo: Callable[[str], None] = print
    show_results: Callable[[list], None] = lambda _results: None  # the verify table, for people
    ca_file: Path | None = None  # a private CA that deploy's verify trusts (else verify.ca_file, the system store)


@dataclass(frozen=True)
class DeployResult:
    release: Release | None
    plan: Plan


@contextmanager
def deploy_lock(layout: Layout) -> Iterator[None]:
    """One deploy (or rollback) at a time per deployment; the kernel drops the lock if we die."""
    layout.state.mkdir(parents=True, exist_ok=True)
    with layout.lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DeployLocked(f"another deploy of {layout.name} holds {layout.lock}; wait for it to finish") from None
        yield


def _ensure_certificate(model: dict, journal: Journal) -> None:
    tls = model["tls"]
    if tls["enabled"] and tls["self_signed"] and not Path(tls["certificate"]).exists():
        create_self_signed(Path(tls["certificate"]), Path(tls["certificate_key"]), model["site"]["server_names"])
        journal.step("preflight", f"created a self-signed certificate {tls['certificate']}")


def deploy(profile_path: Path, options: DeployOptions) -> DeployResult:
    profile = deploy_profile(profile_path, options.root, options.service_manager)
    model = profile.model
    layout = Layout(options.root, model["name"])
    journal = Journal(None if options.dry_run else layout.log, options.echo)
    files = render_files(model)
    journal.step("render", f"{len(files)} files from {profile_path}", profile=str(profile_path))
    if options.dry_run:
        return _plan_only(model, files, layout, options, journal)
    with deploy_lock(layout):
        remove_stale_staging(layout)
        previous = current_release(layout)
        _ensure_certificate(model, journal)
        _preflight(model, files, previous, options, journal)
        plan = make_plan(files, previous)
        journal.step("plan", "\n".join(plan.lines()))
        if not options.confirm(plan):
            raise DeployError("not confirmed; nothing was changed")
        release_id = new_release_id()
        info = {"id": release_id, "created": datetime.datetime.now(datetime.UTC).isoformat(), "model": model,
                "profile": str(profile_path), "service_manager": options.service_manager, "version": __version__}
        release = store_release(layout, release_id, files, manifest(files, model, profile_path.name), info)
        switch_current(layout, release)
        journal.step("install", f"release {release.id} is current (previous: {previous.id if previous else 'none'})")
        try:
            _apply_and_verify(layout, release, previous, options, journal)
        except SwarmdeployError as error:
            _recover(layout, previous, options, journal, error)
        prune_releases(layout)
        return DeployResult(release, plan)


def _plan_only(model: dict, files: dict[str, str], layout: Layout, options: DeployOptions,
               journal: Journal) -> DeployResult:
    previous = current_release(layout)
    _preflight(model, files, previous, options, journal)
    plan = make_plan(files, previous)
    journal.step("plan", "\n".join(plan.lines()))
    journal.step("dry-run", "stopped before installing: nothing was written")
    return DeployResult(None, plan)


def _preflight(model: dict, files: dict[str, str], previous: Release | None, options: DeployOptions,
               journal: Journal) -> None:
    problems = preflight(model, files, previous)
    if problems:
        for problem in problems:
            journal.step("preflight", f"FAIL {problem}")
        raise DeployError(f"preflight found {len(problems)} problem(s); nothing was changed")
    journal.step("preflight", "configs, units, TLS files, ports, queue and app factory all pass")


def _apply_and_verify(layout: Layout, release: Release, previous: Release | None, options: DeployOptions,
                      journal: Journal) -> None:
    apply_release(options.service_manager, layout, release, previous, journal.reporter("apply"))
    if not options.verify:
        journal.step("verify", "skipped (--no-verify)")
        return
    results = verify_release(layout, release, options.service_manager, options.ca_file)
    options.show_results(results)
    if failed(results):
        raise DeployError(f"verify failed: {describe_failures(results)}")
    journal.step("verify", f"all {len(results)} checks pass or skip", release=release.id)


def _recover(layout: Layout, previous: Release | None, options: DeployOptions, journal: Journal,
             error: SwarmdeployError) -> None:
    journal.step("failed", str(error))
    if not options.rollback:
        raise DeployError(f"{error}; --no-rollback: the failed release stays current") from error
    if previous is None:
        stop_release(options.service_manager, layout, current_release(layout))
        switch_current(layout, None)
        raise DeployError(f"{error}; there was no previous release: services stopped") from error
    switch_current(layout, previous)
    journal.step("rollback", f"release {previous.id} is current again")
    try:
        apply_release(options.service_manager, layout, previous, None, journal.reporter("rollback"))
        results = verify_release(layout, previous, options.service_manager, options.ca_file)
        outcome = "and it verifies" if not failed(results) else f"but it fails verify too: {describe_failures(results)}"
    except SwarmdeployError as again:
        outcome = f"but it did not start: {again}"
    journal.step("rollback", f"restored {previous.id} {outcome}")
    raise DeployError(f"{error}; rolled back to {previous.id} {outcome}") from error


def rollback(root: Path, name: str, release_id: str | None, service_manager: str,
             echo: Callable[[str], None] = print) -> Release:
    layout = Layout(root, name)
    journal = Journal(layout.log, echo)
    with deploy_lock(layout):
        current = current_release(layout)
        releases = list_releases(layout)
        if release_id:
            target = next((r for r in releases if r.id == release_id), None)
        else:
            older = [r for r in releases if current and r.id < current.id]
            target = older[-1] if older else None
        if target is None or not target.intact():
            raise DeployError(f"no intact release {release_id or 'before ' + (current.id if current else 'none')}")
        switch_current(layout, target)
        journal.step("rollback", f"release {target.id} is current")
        apply_release(service_manager, layout, target, current, journal.reporter("rollback"))
        results = verify_release(layout, target, service_manager)
        if failed(results):
            raise DeployError(f"rolled back to {target.id}, but verify fails: {describe_failures(results)}")
        journal.step("verify", f"release {target.id} verifies")
        return target


def prune_releases(layout: Layout, keep: int = 5) -> None:
    """Keep the newest releases (and the current one); older ones are only history."""
    current = current_release(layout)
    for release in list_releases(layout)[:-keep]:
        if not current or release.id != current.id:
            shutil.rmtree(release.path, ignore_errors=True)
