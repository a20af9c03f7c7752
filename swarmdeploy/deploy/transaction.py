"""The deploy transaction: render, preflight, plan, install, apply, verify; on any failure after
install (a bug's exception too), restore the previous release, restart it, verify it, and say both
outcomes."""

from __future__ import annotations

import datetime
import json
import shutil
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from swarmdeploy import __version__
from swarmdeploy.bundle import manifest
from swarmdeploy.deploy.certificates import create_self_signed
from swarmdeploy.deploy.journal import Journal
from swarmdeploy.deploy.layout import Layout, checked_root
from swarmdeploy.deploy.lock import check_unlocked, deploy_lock
from swarmdeploy.deploy.managers import manager_of, service_manager
from swarmdeploy.deploy.nginx_control import ApplyError
from swarmdeploy.deploy.plan import Plan, make_plan
from swarmdeploy.deploy.preflight import preflight
from swarmdeploy.deploy.releases import (Release, current_release, list_releases, new_release_id,
                                         remove_stale_staging, store_release, switch_current)
from swarmdeploy.deploy.rooted import deploy_profile
from swarmdeploy.deploy.verification import describe_failures, failed, verify_release
from swarmdeploy.errors import Locked, SwarmdeployError, UsageError
from swarmdeploy.render import render_files


NOTHING_TO_DEPLOY = "nothing to deploy: release {} is current (--force deploys it again)"


class DeployError(SwarmdeployError):
    """The deploy did not end with a verified new release."""


@dataclass(frozen=True)
class DeployOptions:
    root: Path = Path("/")
    service_manager: str = "systemd"
    dry_run: bool = False
    verify: bool = True
    rollback: bool = True
    force: bool = False  # deploy even when nothing changed since the current release
    confirm: Callable[[Plan], bool] = lambda _plan: True
    echo: Callable[[str], None] = print
    show_results: Callable[[list], None] = lambda _results: None  # the verify table, for people
    ca_file: Path | None = None  # a private CA that deploy's verify trusts (else verify.ca_file, the system store)


@dataclass(frozen=True)
class DeployResult:
    release: Release | None
    plan: Plan
    unchanged: bool = False  # nothing to deploy: `release` was already current


def _ensure_certificate(model: dict, journal: Journal) -> None:
    tls = model["tls"]
    if tls["enabled"] and tls["self_signed"] and not Path(tls["certificate"]).exists():
        create_self_signed(Path(tls["certificate"]), Path(tls["certificate_key"]), model["site"]["server_names"])
        journal.step("install", f"created a self-signed certificate {tls['certificate']}")


def deploy(profile_path: Path, options: DeployOptions) -> DeployResult:
    """Nothing is written (certificate, lock, log, state) before preflight passes and the plan is confirmed;
    a dry run makes exactly the checks a deploy makes before that, then stops."""
    root = checked_root(options.root)
    profile = deploy_profile(profile_path, root, options.service_manager)
    model = profile.model
    layout = Layout(root, model["name"])
    journal = Journal(None, options.echo)  # the log is a write too: it starts with the lock
    files = render_files(model)
    journal.step("render", f"{len(files)} files from {profile_path}", profile=str(profile_path))
    check_unlocked(layout)
    previous = current_release(layout)
    plan = make_plan(files, previous)
    if _unchanged(previous, plan, model, options):
        return _nothing_to_deploy(layout, previous, plan, journal, options.dry_run)
    _preflight(model, files, previous, options, journal)
    journal.step("plan", plan.describe())
    if options.dry_run:
        journal.step("dry-run", "stopped before installing: nothing was written")
        return DeployResult(None, plan)
    if not options.confirm(plan):
        raise DeployError("not confirmed; nothing was changed")
    with deploy_lock(layout, create=True):
        _still_current(layout, previous)
        journal.log = layout.log
        remove_stale_staging(layout)
        _ensure_certificate(model, journal)
        release = _install(layout, profile_path, model, files, previous, options, journal)
        try:
            _apply_and_verify(layout, release, previous, options, journal)
        except Exception as error:  # noqa: BLE001 - whatever stops apply, the previous release comes back
            _recover(layout, release, previous, options, journal, _as_failure(error, journal))
        prune_releases(layout)
        return DeployResult(release, plan)


def _still_current(layout: Layout, planned: Release | None) -> None:
    """Preflight and plan ran against `planned` without the lock: a change that switched releases meanwhile
    makes them stale."""
    now = current_release(layout)
    if now != planned:
        raise Locked(f"release {now.id if now else 'none'} became current while this deploy planned against "
                     f"{planned.id if planned else 'none'}; nothing was changed: run the deploy again")


def _unchanged(previous: Release | None, plan: Plan, model: dict, options: DeployOptions) -> bool:
    """The current release has the same files (as they are on disk) and model, for the same manager."""
    stored = json.loads(json.dumps(model))  # as release.json holds it: lists, not tuples
    return (previous is not None and not options.force and plan.empty and previous.model == stored
            and manager_of(previous) == options.service_manager)


def _nothing_to_deploy(layout: Layout, current: Release, plan: Plan, journal: Journal,
                       dry_run: bool) -> DeployResult:
    """No new release and no restart; but a service of the current release that is down is started (not in a
    dry run), since a deploy promises the release running."""
    journal.step("plan", NOTHING_TO_DEPLOY.format(current.id))
    if dry_run:
        return DeployResult(None, plan, unchanged=True)
    with deploy_lock(layout):
        journal.log = layout.log
        service_manager(manager_of(current), layout).start(current, journal.reporter("apply"))
    return DeployResult(current, plan, unchanged=True)


def _install(layout: Layout, profile_path: Path, model: dict, files: dict[str, str], previous: Release | None,
             options: DeployOptions, journal: Journal) -> Release:
    """Write the release and make it current. A failed write leaves no release and `current` as it was."""
    release_id = new_release_id()
    info = {"id": release_id, "created": datetime.datetime.now(datetime.UTC).isoformat(), "model": model,
            "profile": str(profile_path), "service_manager": options.service_manager, "version": __version__}
    try:
        release = store_release(layout, release_id, files, manifest(files, model, profile_path.name), info)
    except OSError as error:
        kept = f"release {previous.id} stays current" if previous else "nothing was deployed"
        journal.step("failed", f"could not write release {release_id}: {error}")
        raise DeployError(f"could not write release {release_id}: {error}; {kept}") from error
    switch_current(layout, release)
    journal.step("install", f"release {release.id} is current (previous: {previous.id if previous else 'none'})")
    return release


def _preflight(model: dict, files: dict[str, str], previous: Release | None, options: DeployOptions,
               journal: Journal) -> None:
    problems = preflight(model, files, previous, options.service_manager, options.verify)
    if problems:
        for problem in problems:
            journal.step("preflight", f"FAIL {problem}")
        raise DeployError(f"preflight found {len(problems)} problem(s); nothing was changed")
    journal.step("preflight", "configs, units, directories, TLS files, ports, queue and app factory all pass")


def _apply_and_verify(layout: Layout, release: Release, previous: Release | None, options: DeployOptions,
                      journal: Journal) -> None:
    service_manager(options.service_manager, layout).apply(release, previous, journal.reporter("apply"))
    if not options.verify:
        journal.step("verify", "skipped (--no-verify)")
        return
    results = verify_release(layout, release, options.service_manager, options.ca_file)
    options.show_results(results)
    if failed(results):
        raise DeployError(f"verify failed: {describe_failures(results)}")
    journal.step("verify", f"all {len(results)} checks pass or skip", release=release.id)


def _as_failure(error: Exception, journal: Journal) -> SwarmdeployError:
    """A user-facing failure as it is. Anything else is a bug: its traceback goes to the deploy log, and the
    deploy fails like any apply, so the release is rolled back rather than left half-applied."""
    if isinstance(error, SwarmdeployError):
        return error
    journal.step("failed", f"unexpected {type(error).__name__} (a bug in swarmdeploy; its traceback is in "
                           f"{journal.log})", traceback="".join(traceback.format_exception(error)))
    return ApplyError(f"apply stopped on an unexpected {type(error).__name__}: {error}")


def _recover(layout: Layout, release: Release, previous: Release | None, options: DeployOptions, journal: Journal,
             error: SwarmdeployError) -> None:
    """release: the one that failed; what it started and previous lacks (an instance more) is stopped."""
    journal.step("failed", str(error))
    if not options.rollback:
        raise DeployError(f"{error}; --no-rollback: the failed release stays current") from error
    if previous is None:
        service_manager(options.service_manager, layout).stop(release)
        switch_current(layout, None)
        raise DeployError(f"{error}; there was no previous release: services stopped") from error
    switch_current(layout, previous)
    journal.step("rollback", f"release {previous.id} is current again")
    try:
        service_manager(options.service_manager, layout).apply(previous, release, journal.reporter("rollback"))
        results = verify_release(layout, previous, options.service_manager, options.ca_file)
        outcome = "and it verifies" if not failed(results) else f"but it fails verify too: {describe_failures(results)}"
    except Exception as again:  # noqa: BLE001 - the outcome is reported either way
        outcome = f"but it did not start: {_as_failure(again, journal)}"
    journal.step("rollback", f"restored {previous.id} {outcome}")
    raise DeployError(f"{error}; rolled back to {previous.id} {outcome}") from error


def rollback(root: Path, name: str, release_id: str | None, manager: str | None = None,
             echo: Callable[[str], None] = print) -> Release:
    """manager: the service manager to restore with (default: the one the release was deployed with)."""
    layout = Layout(root, name)
    journal = Journal(layout.log, echo)
    with deploy_lock(layout):
        current = current_release(layout)
        target = _rollback_target(layout, current, release_id)
        manager = manager or manager_of(target)
        switch_current(layout, target)
        journal.step("rollback", f"release {target.id} is current")
        service_manager(manager, layout).apply(target, current, journal.reporter("rollback"))
        results = verify_release(layout, target, manager)
        if failed(results):
            raise DeployError(f"rolled back to {target.id}, but verify fails: {describe_failures(results)}")
        journal.step("verify", f"release {target.id} verifies")
        return target


def _rollback_target(layout: Layout, current: Release | None, release_id: str | None) -> Release:
    """The release asked for, or the one before the current; UsageError naming those kept when there is none."""
    releases = list_releases(layout)
    if release_id:
        target = next((r for r in releases if r.id == release_id), None)
    else:
        target = next((r for r in reversed(releases) if current and r.id < current.id), None)
    if target is None:
        wanted = release_id or f"before {current.id if current else 'none'}"
        kept = ", ".join(r.id for r in releases) or "none"
        raise UsageError(f"no release {wanted} of {layout.name}: it keeps {kept} (swarmdeploy releases)")
    if not target.intact():
        raise DeployError(f"release {target.id} is damaged (a file differs from its manifest); choose another")
    return target


def prune_releases(layout: Layout, keep: int = 5) -> None:
    """Keep the newest releases (and the current one); older ones are only history."""
    current = current_release(layout)
    for release in list_releases(layout)[:-keep]:
        if not current or release.id != current.id:
            shutil.rmtree(release.path, ignore_errors=True)
