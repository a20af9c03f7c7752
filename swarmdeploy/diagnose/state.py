"""status.json, last-verify.json and last-deployment.json: what runs now (each service, its pid and health, as
`swarmdeploy status` says), and what the deploy recorded; clues for a service down, a queue the instances
cannot reach, and a deploy that left no release."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from swarmdeploy.diagnose.causes import FAILED_DEPLOY, NOT_DEPLOYED, QUEUE_DOWN, SERVICE_DOWN
from swarmdeploy.diagnose.context import Context
from swarmdeploy.diagnose.part import Clue, Collected
from swarmdeploy.verify.record import LAST_DEPLOYMENT


def collect(ctx: Context) -> Collected:
    if not ctx.deployed:
        clue = Clue(f"{ctx.name} is not deployed under {ctx.root}", NOT_DEPLOYED,
                    f"deploy it ({ctx.command('deploy', 'PROFILE')}), or pass the --root the deploy used",
                    "status.json")
        return Collected({"status.json": _json({"name": ctx.name, "deployed": False, "root": str(ctx.root)})},
                         [clue])
    files = {"status.json": _json({"name": ctx.name, "release": ctx.release.id if ctx.release else None,
                                   "service_manager": ctx.manager, "services": ctx.scrub.mapping(ctx.services)})}
    for name, path in (("last-verify.json", ctx.layout.last_verify),
                       ("last-deployment.json", ctx.layout.state_root / LAST_DEPLOYMENT)):
        recorded = _read_json(path)
        if recorded is not None:
            files[name] = _json(ctx.scrub.mapping(recorded))
    return Collected(files, _clues(ctx))


def _clues(ctx: Context) -> list[Clue]:
    if ctx.release is None:
        return [Clue(f"{ctx.name} has no current release", FAILED_DEPLOY,
                     f"read logs/deploy.log for the step that failed, then deploy again ({ctx.command('deploy', 'PROFILE')})",
                     "logs/deploy.log")]
    clues = []
    for row in ctx.services:
        if not row["running"]:
            cause = QUEUE_DOWN if row["service"] == "redis" else SERVICE_DOWN
            clues.append(Clue(f"{row['service']} is not running", cause,
                              f"{ctx.command('start', ctx.name)}; why it stopped: logs/{row['service']}.log",
                              "status.json"))
    unreachable = [row["service"] for row in ctx.services
                   if (row.get("health") or {}).get("queue") and not row["health"]["queue"]["reachable"]]
    if unreachable:
        queue = ctx.scrub.text(ctx.model["server"]["message_queue"])
        clues.append(Clue(f"{', '.join(unreachable)} cannot reach the message queue {queue}", QUEUE_DOWN,
                          "start Redis (with the process manager: " + ctx.command("start", ctx.name) + "), or fix "
                          "server.message_queue; instances resubscribe by themselves", "status.json"))
    return clues


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
