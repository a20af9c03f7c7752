"""Every part of the archive in one place, in the order their clues rank in SUMMARY.txt: what runs, what verify
says now, then versions, configuration, drift, logs, limits and sockets."""

from __future__ import annotations

from swarmdeploy.diagnose import configuration, drift, limits, logs, sockets, state, verification, versions
from swarmdeploy.diagnose.part import Part

PARTS: tuple[Part, ...] = (
    Part("state", "what runs now (as swarmdeploy status says) and what the deploy recorded", state.collect),
    Part("verify", "verify, run now against the current release as the deploy ran it", verification.collect),
    Part("versions", "Python and the server's libraries, nginx, HAProxy, Redis, OpenSSL, the socket.io client "
                     "served, the machine", versions.collect),
    Part("configuration", "the profile, the resolved model, the instances' environment (secrets redacted)",
         configuration.collect),
    Part("drift", "the deployed files against their render (hand edits), and what deploying PROFILE would change",
         drift.collect),
    Part("logs", "the last lines of every service log, the deploy's log, the journal of systemd units",
         logs.collect),
    Part("limits", "open-file limits of each service, kernel queue settings, nginx worker limits", limits.collect),
    Part("sockets", "listening TCP sockets and their processes, this deployment's ports", sockets.collect),
)
