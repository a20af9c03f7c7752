"""verify.json: verify run now against the current release, as the deploy ran it (the recorded result may be
old); each failing check becomes a clue with the guide's cause."""

from __future__ import annotations

import json

from swarmdeploy.diagnose.causes import CHECK_CAUSES
from swarmdeploy.diagnose.context import Context
from swarmdeploy.diagnose.part import Clue, Collected


def collect(ctx: Context) -> Collected:
    if not ctx.fresh_verify or ctx.release is None:
        why = "--no-verify" if not ctx.fresh_verify else "nothing is deployed"
        return Collected({"verify.json": json.dumps({"skipped": why}) + "\n"})
    try:
        from swarmdeploy.deploy.verification import target_of
        from swarmdeploy.verify.api import verify
        from swarmdeploy.verify.report import as_json
        from swarmdeploy.verify.result import Status
    except ImportError as error:  # the verify extra is optional for diagnose: the rest of the archive still helps
        return Collected({"verify.json": json.dumps({"skipped": f"needs the verify extra ({error.name})"}) + "\n"})
    target = target_of(ctx.layout, ctx.release, ctx.manager)
    results = verify(target)
    clues = [Clue(f"verify's {result.check} check fails: " + "; ".join(
                      f"{o.what}: {o.saw}" for o in result.observations if o.status is Status.FAIL),
                  CHECK_CAUSES[result.check],
                  "; ".join(dict.fromkeys(o.fix for o in result.observations if o.status is Status.FAIL and o.fix))
                  or "see verify.json", "verify.json")
             for result in results if result.status is Status.FAIL]
    return Collected({"verify.json": json.dumps(ctx.scrub.mapping(as_json(results, target.url)), indent=2) + "\n"},
                     clues)
