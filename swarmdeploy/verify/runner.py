"""Run the checks in registry order; a check whose prerequisite failed is skipped, not failed."""

from __future__ import annotations

import dataclasses
import time

from swarmdeploy.verify.registry import CHECKS
from swarmdeploy.verify.result import CheckResult, Observation, Status
from swarmdeploy.verify.target import Target


def run_checks(target: Target, only: list[str] | None = None) -> list[CheckResult]:
    results: dict[str, CheckResult] = {}
    blocked: set[str] = set()  # failed, or skipped because something they need failed
    for name, check in CHECKS.items():
        if only and name not in only:
            continue
        missing = [need for need in check.needs if need in blocked]
        start = time.perf_counter()
        if missing:
            observations = [Observation("prerequisite", Status.SKIP, f"skipped: needs {', '.join(missing)}")]
        else:
            observations = _run_one(check.run, target)
        results[name] = CheckResult(name, check.title, tuple(observations), time.perf_counter() - start)
        if missing or results[name].status is Status.FAIL:
            blocked.add(name)
        if name == "tls" and results[name].status is Status.FAIL and not target.insecure:
            # Later checks test their own concern with the certificate ignored, like curl -k.
            target = dataclasses.replace(target, insecure=True)
    return list(results.values())


def _run_one(run, target: Target) -> list[Observation]:
    try:
        return run(target)
    except OSError as error:
        return [Observation("connection", Status.FAIL, f"{type(error).__name__}: {error}",
                            "see the reachability and tls checks for why the server cannot be reached")]
    except Exception as error:  # noqa: BLE001 - a crashing check is reported, the others still run
        return [Observation("check crashed", Status.FAIL, f"{type(error).__name__}: {error}",
                            "this is a bug in swarmdeploy verify; please report it with --json output")]
