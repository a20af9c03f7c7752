"""CORS: every origin the profile allows is accepted; an origin it does not name is refused."""

from __future__ import annotations

from swarmdeploy.verify.engineio import EngineIOError, PollingSession
from swarmdeploy.verify.result import Observation, Status
from swarmdeploy.verify.target import Target

FOREIGN_ORIGIN = "https://foreign-origin.invalid"


def _allowed_origins(target: Target) -> list[str]:
    origins = target.expect("socketio.cors_allowed_origins") or [target.base]
    if target.origin and target.origin not in origins:
        origins = [*origins, target.origin]
    return [o for o in origins if o != "*"]


def _try(target: Target, origin: str) -> tuple[bool, str]:
    session = PollingSession(target, origin)
    try:
        session.open()
    except EngineIOError as error:
        if error.origin_refused:
            return False, "refused (400 Not an accepted origin)"
        raise
    echoed = session.last.headers.get("Access-Control-Allow-Origin") if session.last else None
    session.close()
    return True, f"accepted, Access-Control-Allow-Origin: {echoed}"


def run(target: Target) -> list[Observation]:
    observations = []
    for origin in _allowed_origins(target):
        accepted, saw = _try(target, origin)
        observations.append(Observation(
            f"origin {origin}", Status.PASS if accepted else Status.FAIL, saw,
            "" if accepted else f"the server does not allow {origin}: add it to socketio.cors_allowed_origins and "
                                "redeploy the environment file; behind a proxy, forward X-Forwarded-Proto and "
                                "X-Forwarded-Host (the rendered nginx site does)"))
    accepted, saw = _try(target, FOREIGN_ORIGIN)
    saw = f"{FOREIGN_ORIGIN} {saw}"
    if not accepted:
        return observations + [Observation("foreign origin", Status.PASS, saw)]
    if target.model is None:
        # No profile says what was meant: any site may open sockets as your users (CSRF).
        return observations + [Observation("foreign origin", Status.WARN, saw + " (the server allows '*')",
                                           "list the dashboard's origins in socketio.cors_allowed_origins")]
    if "*" in target.expect("socketio.cors_allowed_origins"):
        return observations + [Observation("foreign origin", Status.PASS, saw + " ('*' in the profile, not production)")]
    return observations + [Observation(
        "foreign origin", Status.FAIL, saw, "the server accepts any origin: deploy the rendered environment file so it "
                                            "uses socketio.cors_allowed_origins, and restart")]
