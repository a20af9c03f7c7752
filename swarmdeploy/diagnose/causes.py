"""Symptoms mapped to the causes the troubleshooting guide names (docs: SEED-websocket-troubleshooting.md, its
section and issue) and FACTS.md's failure table, as they apply to a swarmdeploy deployment: one entry per
verify check (tests/test_diagnose.py holds every check to having one), per log line worth knowing, and for
what the state shows."""

from __future__ import annotations

import re

from swarmdeploy.diagnose.part import Cause

CHECK_CAUSES: dict[str, Cause] = {
    "reachability": Cause("§1 'WebSocket Connection Fails Immediately': is the dashboard running?",
                          "nginx is not running, or the public port is closed or not resolved"),
    "tls": Cause("§6 'WebSocket Fails with SSL/HTTPS'",
                 "the certificate is not trusted, expired or for another name, or the TLS settings are weak"),
    "hosts": Cause("§6 'Load Balancer Drops WebSocket Connections'",
                   "a host behind the balancer is down or fails the balancer's health check"),
    "handshake": Cause("§1 'WebSocket Connects but Immediately Disconnects'",
                       "the server runs other Engine.IO settings than the profile (an old environment file)"),
    "instances": Cause("§1 'WebSocket Connection Fails Immediately': check if the dashboard is running",
                       "an instance is down, unhealthy, or runs other settings than the profile"),
    "websocket": Cause("§4 'WebSocket Fails Behind Corporate Proxy' (FACTS §5: stuck on polling, no 101)",
                       "a proxy drops the Upgrade/Connection headers or speaks HTTP/1.0 upstream"),
    "polling": Cause("§4 'Configure fallback to long-polling'",
                     "the polling transport is off or broken on the server"),
    "upgrade": Cause("§4 'WebSocket Blocked by Firewall' (fallback to polling)",
                     "upgrades are off (socketio.allow_upgrades) or the upgrade request is refused"),
    "cors": Cause("§3 'WebSocket Works in Chrome but Not Firefox': verify CORS settings",
                  "the page's origin is not accepted (socketio.cors_allowed_origins, X-Forwarded-Proto/Host)"),
    "stickiness": Cause("§6 'Load Balancer Drops WebSocket Connections': enable session affinity",
                        "polling requests of one session reach different instances: 400 'Session ID unknown'"),
    "broadcast": Cause("FACTS §5 'broadcast reaches some clients'",
                       "the message queue (Redis) is down, unreachable, or not configured on every instance"),
    "latency": Cause("§2 'High Latency Despite WebSocket Connection'",
                     "a stalled or saturated instance (swarmdeploy bench measures how many clients it holds)"),
    "idle": Cause("§6 'Increase load balancer timeout' (FACTS §5: disconnect every 30-60 s)",
                  "an idle timeout on the path at or below ping_interval + ping_timeout"),
    "host": Cause("§1 'Check if the dashboard is running'",
                  "a service does not listen, nginx -t fails, or deployed files were edited by hand"),
    "browser": Cause("§1 'Status indicator shows red (disconnected)'",
                     "the page cannot keep a WebSocket: see the websocket and cors checks"),
}

SERVICE_DOWN = Cause("§1 'WebSocket Connection Fails Immediately': check if the dashboard is running",
                     "a service of the current release is not running")
QUEUE_DOWN = Cause("FACTS §5 'broadcast reaches some clients'",
                   "the message queue (Redis) does not answer: broadcasts and history fail, each instance still "
                   "serves its own clients")
NOT_LISTENING = Cause("§1 'Check for port conflicts'", "a service runs but does not listen on its port")
HAND_EDITED = Cause("§1 'Connects but Immediately Disconnects'",
                    "deployed files were edited by hand: what runs is not what the profile says")
DESCRIPTORS = Cause("§2 'Monitor server resources' (FACTS §1b: two nginx connections per WebSocket)",
                    "a limit on open files or connections below what the deployment is sized for")
PROTOCOL_MISMATCH = Cause("FACTS §5 '400 unsupported protocol version'",
                          "the JavaScript client's major version does not match the server's protocol (EIO=4)")
FAILED_DEPLOY = Cause("§1 'WebSocket Connection Fails Immediately'", "the last deploy did not leave a release")
NOT_DEPLOYED = Cause("§1 'Check if the dashboard is running'",
                     "nothing was deployed under this --root (or the deploy used another --root)")

# Log lines that name a cause on their own (instance, nginx and Redis logs, the journal), with the profile field
# that fixes it. Not the queue's "lost" line: it is history once the queue is back, and status.json says whether
# it is reachable now.
LOG_SIGNS: tuple[tuple[re.Pattern[str], Cause, str], ...] = (
    # verify's cors check is refused on purpose with this origin (verify/checks/cors.py FOREIGN_ORIGIN).
    (re.compile(r"(?<!foreign-origin\.invalid) is not an accepted origin"), CHECK_CAUSES["cors"],
     "add the page's origin to socketio.cors_allowed_origins (scheme://host[:port]) and deploy"),
    (re.compile(r"Invalid session|Session ID unknown"), CHECK_CAUSES["stickiness"],
     "set proxy.sticky (load_balancer.stickiness behind a balancer), or socketio.transports: [websocket]"),
    (re.compile(r"Too many open files|worker_connections are not enough"), DESCRIPTORS,
     ("raise proxy.worker_connections (two per WebSocket) or proxy.worker_processes, and deploy; "
      "swarmdeploy bench measures what the host then holds")),
    (re.compile(r"unsupported protocol version", re.IGNORECASE), PROTOCOL_MISMATCH,
     "serve socket.io-client 4.x (the server speaks EIO=4)"),
)
