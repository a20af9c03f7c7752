"""Rules of one host: nginx in front of instances, TLS, CORS, ports, the message queue."""

from __future__ import annotations

import re
from collections.abc import Iterator

from swarmdeploy.rules.core import ProfileData, Violation, rule, value

_MANAGED_QUEUE = re.compile(r"^redis://(127\.0\.0\.1|localhost)(:(?P<port>[0-9]+))?(/(?P<db>[0-9]+))?$")
REDIS_DATABASES = 16  # redis-server's default `databases`, which the managed Redis keeps
REDIS_PORT = 6379
_ORIGIN = re.compile(r"^https?://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:(?P<port>[0-9]{1,5}))?$")


@rule("timeout.below-ping", ("socketio.ping_interval", "socketio.ping_timeout", "load_balancer.kind"))
def _idle_timeouts_exceed_ping(data: ProfileData) -> Iterator[Violation]:
    ping_total = value(data, "socketio.ping_interval") + value(data, "socketio.ping_timeout")
    hops = ["proxy.read_timeout", "proxy.send_timeout"]
    balancer = value(data, "load_balancer.kind")
    if balancer == "alb":
        hops.append("load_balancer.idle_timeout")
    elif balancer == "haproxy":
        hops += ["load_balancer.timeout_tunnel", "load_balancer.timeout_client", "load_balancer.timeout_server"]
    for hop in hops:
        seconds = value(data, hop)
        if isinstance(seconds, int) and seconds <= ping_total:  # a mistyped hop is the schema's to report
            yield Violation(
                hop,
                f"{seconds} s does not exceed socketio.ping_interval + socketio.ping_timeout = {ping_total} s; "
                f"idle clients are cut off with 'transport close' every {seconds} s",
                f"set {hop} above {ping_total} (3600 is usual), or lower the ping settings",
            )


@rule("instances.need-queue", ("server.instances", "server.message_queue", "load_balancer.kind"))
def _instances_need_queue(data: ProfileData) -> Iterator[Violation]:
    if value(data, "server.message_queue"):
        return
    if value(data, "server.instances") > 1:
        yield Violation("server.instances",
                        "several instances without a message queue: a broadcast reaches only the clients of one instance",
                        "set server.message_queue: redis://127.0.0.1:6379/0 (a Redis all instances reach), or use instances: 1")
    elif value(data, "load_balancer.kind") in ("alb", "haproxy"):
        yield Violation("load_balancer.kind",
                        "a load balancer spreads clients over several hosts, but there is no message queue: "
                        "a broadcast reaches only the clients of one host",
                        "set server.message_queue to a Redis URL that every host reaches (never on a public interface)")


@rule("instances.need-sticky", ("server.instances", "socketio.transports", "proxy.sticky"))
def _instances_need_stickiness(data: ProfileData) -> Iterator[Violation]:
    polling = "polling" in value(data, "socketio.transports")
    if value(data, "server.instances") > 1 and polling and value(data, "proxy.sticky") == "none":
        yield Violation("proxy.sticky",
                        "several instances with polling enabled and no stickiness: polling requests of one session "
                        "reach different instances and fail with 400 'Session ID unknown'",
                        "set proxy.sticky: ip_hash (or hash_remote_addr), or socketio.transports: [websocket]")


@rule("production.tls", ("environment", "tls.profile"))
def _production_needs_tls(data: ProfileData) -> Iterator[Violation]:
    if data.get("environment") == "production" and value(data, "tls.profile") == "off":
        yield Violation("tls.profile", "TLS is off in production: the dashboard and its WebSocket travel in clear text",
                        "set tls.profile: intermediate with tls.certificate and tls.certificate_key")


@rule("production.hsts", ("environment", "tls.hsts"))
def _production_needs_hsts(data: ProfileData) -> Iterator[Violation]:
    if data.get("environment") == "production" and value(data, "tls.hsts") is False:
        yield Violation("tls.hsts", "HSTS is off in production: a first visit over http:// can be downgraded",
                        "set tls.hsts: true")


@rule("production.cors-origins", ("environment", "socketio.cors_allowed_origins"))
def _production_needs_explicit_origins(data: ProfileData) -> Iterator[Violation]:
    if data.get("environment") != "production":
        return
    origins = value(data, "socketio.cors_allowed_origins")
    if origins is None:
        yield Violation("socketio", "production requires explicit socketio.cors_allowed_origins",
                        "add cors_allowed_origins: [https://your.dashboard.host] under socketio")
    elif "*" in origins:
        yield Violation(f"socketio.cors_allowed_origins.{origins.index('*')}",
                        "'*' accepts every origin in production (cross-site WebSocket hijacking)",
                        "list the dashboard's origins instead, such as https://dashboard.example.com")


@rule("cors.wildcard", ("environment", "socketio.cors_allowed_origins"), severity="warning")
def _wildcard_origin_outside_production(data: ProfileData) -> Iterator[Violation]:
    origins = value(data, "socketio.cors_allowed_origins") or []
    if data.get("environment") != "production" and "*" in origins:
        yield Violation(f"socketio.cors_allowed_origins.{origins.index('*')}",
                        "'*' accepts every origin; fine for a trial, refused in production",
                        "list the dashboard's origins, such as https://dashboard.example.com")


def _origin_problem(origin: str) -> str | None:
    """What keeps origin from being a full scheme://host[:port], or None."""
    if origin == "*":
        return None
    match = _ORIGIN.match(origin)
    if match:
        port = match.group("port")
        return f"port {port} is out of range" if port and not 0 < int(port) <= 65535 else None
    if "://" not in origin:
        return "has no scheme"
    if origin != origin.lower():
        return "has upper-case letters (browsers send origins in lower case)"
    if re.match(r"^https?://[^/]+/", origin):
        return "has a path or trailing slash (an origin is only scheme://host[:port])"
    if not origin.startswith(("http://", "https://")):
        return "has a scheme other than http or https"
    return "is not of the form scheme://host[:port]"


def _suggested_origin(origin: str) -> str:
    """The origin the user most likely meant, or the general form when it cannot be guessed safely."""
    scheme, _, rest = origin.rpartition("://")
    scheme = scheme.lower() if scheme.lower() in ("http", "https") else "https"
    candidate = f"{scheme}://{rest.split('/')[0].lower()}"
    return candidate if _ORIGIN.match(candidate) else "scheme://host[:port], such as https://dashboard.example.com"


@rule("cors.origin-format", ("socketio.cors_allowed_origins", "verify.origin"), replaces=("schema.pattern",))
def _origins_are_full(data: ProfileData) -> Iterator[Violation]:
    origins = value(data, "socketio.cors_allowed_origins") or []
    candidates = [(f"socketio.cors_allowed_origins.{i}", o) for i, o in enumerate(origins)]
    candidates.append(("verify.origin", value(data, "verify.origin")))
    for path, origin in candidates:
        if not isinstance(origin, str):
            continue
        problem = _origin_problem(origin)
        if problem:
            yield Violation(path, f"origin {origin!r} {problem}; it never matches the browser's Origin header",
                            f"write it as {_suggested_origin(origin)}")


@rule("socketio.upgrades-off", ("socketio.allow_upgrades", "socketio.transports"), severity="warning")
def _upgrades_off(data: ProfileData) -> Iterator[Violation]:
    if value(data, "socketio.allow_upgrades") is False and "polling" in value(data, "socketio.transports"):
        yield Violation("socketio.allow_upgrades",
                        "browsers start on polling and never upgrade: every event costs an HTTP request",
                        "remove socketio.allow_upgrades (default true) unless a proxy on the way breaks WebSocket")


@rule("production.self-signed", ("environment", "tls.self_signed"))
def _production_refuses_self_signed(data: ProfileData) -> Iterator[Violation]:
    if data.get("environment") == "production" and value(data, "tls.self_signed") is True:
        yield Violation("tls.self_signed", "a self-signed certificate in production: every browser refuses it",
                        "use a certificate from a CA (Let's Encrypt) and remove tls.self_signed")


@rule("queue.managed-loopback", ("server.message_queue", "server.message_queue_managed"))
def _managed_queue_is_local(data: ProfileData) -> Iterator[Violation]:
    url = value(data, "server.message_queue")
    if value(data, "server.message_queue_managed") is True:
        if not url:
            yield Violation("server.message_queue_managed", "a managed queue needs server.message_queue",
                            "set server.message_queue: redis://127.0.0.1:6379/0")
        elif not _MANAGED_QUEUE.match(url):
            yield Violation("server.message_queue", "a managed Redis listens on loopback only, never on a public interface",
                            "use redis://127.0.0.1:PORT/0, or run the Redis yourself and drop message_queue_managed")


def _managed_queue(data: ProfileData) -> re.Match[str] | None:
    """The managed Redis's URL, parsed, when the process manager starts one."""
    url = value(data, "server.message_queue")
    managed = value(data, "server.message_queue_managed") is True and isinstance(url, str)
    return _MANAGED_QUEUE.match(url) if managed else None


@rule("queue.managed-database", ("server.message_queue", "server.message_queue_managed"))
def _managed_queue_database_exists(data: ProfileData) -> Iterator[Violation]:
    queue = _managed_queue(data)
    if queue and queue["db"] and int(queue["db"]) >= REDIS_DATABASES:
        yield Violation("server.message_queue",
                        f"the managed Redis has databases 0-{REDIS_DATABASES - 1}: selecting {queue['db']} fails "
                        "with 'DB index is out of range' and no broadcast leaves an instance",
                        f"use a database from 0 to {REDIS_DATABASES - 1}, such as redis://127.0.0.1:6379/0")


@rule("tls.certificate-required", ("tls.profile", "tls.certificate", "tls.certificate_key"))
def _tls_needs_certificate(data: ProfileData) -> Iterator[Violation]:
    if value(data, "tls.profile") not in ("intermediate", "modern"):
        return
    for field in ("certificate", "certificate_key"):
        if not value(data, f"tls.{field}"):
            yield Violation("tls", f"tls.profile is {value(data, 'tls.profile')} but tls.{field} is not set",
                            f"set tls.{field} to the PEM file's absolute path, or tls.profile: off outside production")


@rule("tls.modern-ecdsa", ("tls.profile",), severity="warning")
def _modern_needs_ecdsa(data: ProfileData) -> Iterator[Violation]:
    if value(data, "tls.profile") == "modern":
        yield Violation("tls.profile", "the modern profile (TLS 1.3 only) expects an ECDSA certificate",
                        "make sure tls.certificate is ECDSA (P-256), or use tls.profile: intermediate")


@rule("async.eventlet-refused", ("server.async_mode",), replaces=("schema.enum",))
def _eventlet_refused(data: ProfileData) -> Iterator[Violation]:
    if value(data, "server.async_mode") == "eventlet":
        yield Violation("server.async_mode",
                        "eventlet is refused: it is unmaintained, and gunicorn 26+ removed its eventlet worker",
                        "use async_mode: gevent (least memory per connection) or threading")


@rule("ports.overlap", ("server.base_port", "server.instances", "site.http_port", "site.https_port",
                        "server.message_queue", "server.message_queue_managed"))
def _ports_do_not_overlap(data: ProfileData) -> Iterator[Violation]:
    first = value(data, "server.base_port")
    last = first + value(data, "server.instances") - 1
    if last > 65535:
        yield Violation("server.base_port", f"instance ports {first}-{last} run past 65535",
                        "lower server.base_port or server.instances")
    for field in ("site.http_port", "site.https_port"):
        port = value(data, field)
        if first <= port <= last:
            yield Violation(field, f"port {port} is also an instance port ({first}-{last})",
                            "move server.base_port or this port so they do not overlap")
    if value(data, "site.http_port") == value(data, "site.https_port"):
        yield Violation("site.https_port", "http_port and https_port are the same", "give HTTPS its own port, usually 443")
    queue = _managed_queue(data)
    queue_port = int(queue["port"] or REDIS_PORT) if queue else None
    if queue_port is not None and (first <= queue_port <= last or
                                   queue_port in (value(data, "site.http_port"), value(data, "site.https_port"))):
        yield Violation("server.message_queue", f"the managed Redis's port {queue_port} is also an instance's or "
                                                "nginx's port: one of them cannot start",
                        f"give the managed Redis a port of its own, such as redis://127.0.0.1:{REDIS_PORT}/0")


@rule("cors.origins-derivable", ("socketio.cors_allowed_origins", "site.server_names"))
def _origins_derivable(data: ProfileData) -> Iterator[Violation]:
    names = value(data, "site.server_names") or []
    if value(data, "socketio.cors_allowed_origins") is None and names and all("*" in str(n) for n in names):
        yield Violation("site.server_names", "every server name is a wildcard, so no origin can be derived from them",
                        "list the dashboard's origins in socketio.cors_allowed_origins")


@rule("verify.origin-allowed", ("socketio.cors_allowed_origins", "verify.origin"))
def _verify_origin_is_allowed(data: ProfileData) -> Iterator[Violation]:
    origin = value(data, "verify.origin")
    origins = value(data, "socketio.cors_allowed_origins")
    if origin and origins is not None and "*" not in origins and origin not in origins and _ORIGIN.match(origin):
        yield Violation("verify.origin", f"{origin} is not in socketio.cors_allowed_origins, so verify would be refused",
                        "use one of socketio.cors_allowed_origins, or add this origin there")
