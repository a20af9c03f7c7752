"""Rules of several hosts behind a balancer (HAProxy or an AWS ALB): stickiness, the shared queue,
AWS's accepted ranges, and what the balancer needs of its own."""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

from swarmdeploy import elb_policies
from swarmdeploy.model import public_endpoint, site_origins
from swarmdeploy.rules import addresses
from swarmdeploy.rules.core import ProfileData, Violation, all_match, rule, value

ALB_HEALTH_CHECK_INTERVAL = (5, 300)
ALB_MIN_THRESHOLD = 2
AWS_NAME_LENGTH = 32
TARGET_GROUP_SUFFIX = "-tg"
SHORTEST_STICKINESS = 3600  # seconds; below it long-lived polling sessions lose their host


def _hosts(data: ProfileData) -> list[dict]:
    hosts = value(data, "load_balancer.hosts")
    return [h for h in hosts if isinstance(h, dict)] if isinstance(hosts, list) else []


def _alb(data: ProfileData) -> bool:
    return value(data, "load_balancer.kind") == "alb"


def _alb_maximum(rule_id: str, field: str, maximum: int, what: str, usual: int, replaces: tuple[str, ...] = ()):
    """A rule refusing a value the ALB does not accept, though HAProxy (and the schema) would."""

    @rule(rule_id, ("load_balancer.kind", f"load_balancer.{field}"), replaces=replaces)
    def _below_maximum(data: ProfileData) -> Iterator[Violation]:
        seconds = value(data, f"load_balancer.{field}")
        if _alb(data) and seconds > maximum:
            yield Violation(f"load_balancer.{field}", f"{seconds} s is above the ALB's {what} maximum of {maximum} s",
                            f"set load_balancer.{field} to at most {maximum} ({usual} is usual)")


# The schema allows HAProxy's wider ranges; these are AWS's.
_alb_maximum("alb.idle-timeout-range", "idle_timeout", 4000, "idle timeout", 3600, replaces=("schema.range",))
_alb_maximum("alb.stickiness-range", "stickiness_duration", 604800, "lb_cookie (7 days)", 86400)
_alb_maximum("alb.deregistration-range", "deregistration_delay", 3600, "deregistration delay", 300)


@rule("alb.health-check-range", ("load_balancer.kind", "load_balancer.health_check_interval",
                                 "load_balancer.healthy_threshold", "load_balancer.unhealthy_threshold"))
def _alb_health_check_in_range(data: ProfileData) -> Iterator[Violation]:
    if not _alb(data):
        return
    low, high = ALB_HEALTH_CHECK_INTERVAL
    interval = value(data, "load_balancer.health_check_interval")
    if not low <= interval <= high:
        yield Violation("load_balancer.health_check_interval",
                        f"{interval} s is outside the ALB's health check interval range {low}-{high} s",
                        f"set load_balancer.health_check_interval from {low} to {high} (5 takes a host out fastest)")
    for field in ("healthy_threshold", "unhealthy_threshold"):
        count = value(data, f"load_balancer.{field}")
        if count < ALB_MIN_THRESHOLD:
            yield Violation(f"load_balancer.{field}", f"{count} is below the ALB's minimum of {ALB_MIN_THRESHOLD} checks",
                            f"set load_balancer.{field} from {ALB_MIN_THRESHOLD} to 10")


@rule("alb.name-length", ("load_balancer.kind", "load_balancer.name"))
def _alb_names_fit(data: ProfileData) -> Iterator[Violation]:
    # Only an explicit name can be too long: the profile's name (the default) has at most 27 characters.
    name = value(data, "load_balancer.name")
    if _alb(data) and isinstance(name, str) and len(name) + len(TARGET_GROUP_SUFFIX) > AWS_NAME_LENGTH:
        longest = AWS_NAME_LENGTH - len(TARGET_GROUP_SUFFIX)
        yield Violation("load_balancer.name",
                        f"the target group name {name}{TARGET_GROUP_SUFFIX} has {len(name) + len(TARGET_GROUP_SUFFIX)} "
                        f"characters; AWS allows {AWS_NAME_LENGTH}",
                        f"set load_balancer.name to at most {longest} characters, such as {name[:longest].rstrip('-')}")


@rule("balancer.hosts-need-balancer", ("load_balancer.kind", "load_balancer.hosts"))
def _hosts_need_a_balancer(data: ProfileData) -> Iterator[Violation]:
    if _hosts(data) and value(data, "load_balancer.kind") == "none":
        yield Violation("load_balancer.hosts", "hosts are listed but no balancer spreads clients over them",
                        "set load_balancer.kind: haproxy or alb, or remove load_balancer.hosts")


def _normal(address: str) -> str:
    """One spelling per address: fd00:0:0::11 is FD00::11, a name is case-insensitive."""
    try:
        return ipaddress.ip_address(address).compressed
    except ValueError:
        return address.lower()


@rule("hosts.unique", ("load_balancer.hosts",))
def _hosts_are_unique(data: ProfileData) -> Iterator[Violation]:
    seen: dict[str, set[str]] = {"name": set(), "address": set()}
    for index, host in enumerate(_hosts(data)):
        for field, known in seen.items():
            label = host.get(field)
            if not isinstance(label, str):
                continue
            if _normal(label) in known:
                yield Violation(f"load_balancer.hosts.{index}.{field}", f"host {field} {label} is listed twice",
                                f"give every host its own {field}, or remove the repeated entry")
            known.add(_normal(label))


def _address_problem(address: str) -> str | None:
    """Why a host address cannot be a host the balancer reaches, or None."""
    ip = addresses.ip_address(address)
    if ip is None:
        # 10.0.1 or 10.0.1.011 would be read by libc as another address (or in octal).
        return addresses.NOT_AN_ADDRESS if addresses.looks_numeric(address) else None
    if ip.is_unspecified or ip.is_multicast or ip.is_loopback or ip == ipaddress.ip_address("255.255.255.255"):
        return "is not an address of another host (unspecified, loopback, multicast or broadcast)"
    return None


@rule("hosts.address", ("load_balancer.hosts",), replaces=("schema.pattern",))
def _host_addresses_are_hosts(data: ProfileData) -> Iterator[Violation]:
    for index, host in enumerate(_hosts(data)):
        address = host.get("address")
        problem = _address_problem(address) if isinstance(address, str) else None
        if problem:
            yield Violation(f"load_balancer.hosts.{index}.address", f"{address} {problem}",
                            "give the host's private address, such as 10.0.1.11 or fd00::11, or its DNS name")


@rule("balancer.need-sticky", ("load_balancer.kind", "load_balancer.stickiness", "load_balancer.hosts",
                               "socketio.transports"))
def _balancer_needs_stickiness(data: ProfileData) -> Iterator[Violation]:
    if value(data, "load_balancer.kind") == "none" or value(data, "load_balancer.stickiness") != "none":
        return
    hosts = _hosts(data)
    if "polling" in value(data, "socketio.transports") and (not hosts or len(hosts) > 1):
        yield Violation("load_balancer.stickiness",
                        "several hosts with polling enabled and no balancer stickiness: the polling requests of one "
                        "session reach different hosts and fail with 400 'Session ID unknown'",
                        "set load_balancer.stickiness: cookie, or socketio.transports: [websocket]")


def _is_loopback(host: str | None) -> bool:
    """As a resolver would read it: localhost names, 127.x.y.z, and libc's short forms such as 127.1."""
    host = (host or "").lower()
    if host == "localhost" or host.startswith("localhost.") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        return ipaddress.ip_address(socket.inet_aton(host)).is_loopback
    except OSError:
        return False


def _url_host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:  # an unclosed [ of an IPv6 host: url.host-port reports it
        return None


@rule("hosts.shared-queue", ("load_balancer.hosts", "server.message_queue"))
def _hosts_share_one_queue(data: ProfileData) -> Iterator[Violation]:
    url = value(data, "server.message_queue")
    if len(_hosts(data)) > 1 and isinstance(url, str) and _is_loopback(_url_host(url)):
        yield Violation("server.message_queue",
                        f"{url} is each host's own loopback: every host would use a Redis of its own, so a "
                        "broadcast reaches only the clients of one host",
                        "point server.message_queue at one Redis on a private address every host reaches, "
                        "such as redis://10.0.1.20:6379/0 (never on a public interface)")


@rule("haproxy.certificate-required", ("load_balancer.kind", "load_balancer.certificate", "tls.profile"))
def _haproxy_needs_certificate(data: ProfileData) -> Iterator[Violation]:
    if value(data, "load_balancer.kind") == "haproxy" and value(data, "tls.profile") != "off" \
            and not value(data, "load_balancer.certificate"):
        yield Violation("load_balancer", "HAProxy terminates TLS for clients but load_balancer.certificate is not set",
                        "set load_balancer.certificate to one PEM file holding the certificate chain and its key "
                        "(cat fullchain.pem privkey.pem > haproxy.pem)")


@rule("balancer.ports-overlap", ("load_balancer.kind", "load_balancer.http_port", "load_balancer.https_port",
                                 "load_balancer.stats_port"))
def _balancer_ports_differ(data: ProfileData) -> Iterator[Violation]:
    if value(data, "load_balancer.kind") == "none":
        return
    http, https = value(data, "load_balancer.http_port"), value(data, "load_balancer.https_port")
    if http == https:
        yield Violation("load_balancer.https_port", "the balancer's http_port and https_port are the same",
                        "give HTTPS its own port, usually 443")
    if value(data, "load_balancer.kind") == "haproxy" and value(data, "load_balancer.stats_port") in (http, https):
        yield Violation("load_balancer.stats_port", "the statistics port is also a public port of the balancer",
                        "move load_balancer.stats_port (8404 is usual)")


def _served_by_site(data: ProfileData, origin: str) -> bool:
    """An origin of the site itself: its scheme and public port, a host one of the server names covers."""
    scheme, port, default_port = public_endpoint(data)
    try:
        parts = urlsplit(origin)
        if parts.scheme != scheme or (parts.port or default_port) != port:
            return False
    except ValueError:  # a port past 65535, which cors.origin-format reports
        return False
    return any(fnmatch.fnmatch(parts.hostname or "", name) for name in value(data, "site.server_names") or []
               if isinstance(name, str))


@rule("cors.cross-origin-cookie", ("load_balancer.kind", "load_balancer.stickiness", "socketio.transports",
                                   "socketio.cors_allowed_origins", "site.server_names", "tls.profile"),
      severity="warning")
def _cross_origin_clients_need_credentials(data: ProfileData) -> Iterator[Violation]:
    origins = value(data, "socketio.cors_allowed_origins") or []
    if value(data, "load_balancer.kind") == "none" or value(data, "load_balancer.stickiness") != "cookie" \
            or "polling" not in value(data, "socketio.transports") or not all_match("origin", origins):
        return
    foreign = [origin for origin in origins if origin != "*" and not _served_by_site(data, origin)]
    if foreign:
        cookie = "AWSALB" if _alb(data) else value(data, "load_balancer.cookie_name")
        yield Violation("socketio.cors_allowed_origins",
                        f"pages served from {', '.join(foreign)} poll this site cross-origin: browsers send the "
                        f"stickiness cookie {cookie} only with credentials, or polling fails with 'Session ID unknown'",
                        "create the client with withCredentials: true (socket.io-client); from another site "
                        "(another registrable domain) browsers that block third-party cookies drop it anyway: "
                        "serve the page from the site's own origin, or use socketio.transports: [websocket]")


@rule("balancer.real-ip-default", ("load_balancer.kind", "load_balancer.hosts", "proxy.real_ip_from"),
      severity="warning")
def _hosts_trust_only_the_balancer(data: ProfileData) -> Iterator[Violation]:
    if _hosts(data) and value(data, "load_balancer.kind") != "none" and value(data, "proxy.real_ip_from") is None:
        yield Violation("load_balancer.hosts",
                        "the hosts' nginx trusts X-Forwarded-For from every private address, not only the balancer's",
                        "set proxy.real_ip_from to the balancer's addresses (HAProxy: its private address; "
                        "ALB: its subnets' CIDRs)")


@rule("balancer.plain-backend", ("environment", "load_balancer.kind", "load_balancer.backend_protocol",
                                 "tls.profile"), severity="warning")
def _plain_backend_in_production(data: ProfileData) -> Iterator[Violation]:
    if data.get("environment") == "production" and value(data, "load_balancer.kind") != "none" \
            and value(data, "load_balancer.backend_protocol") == "http" and value(data, "tls.profile") != "off":
        yield Violation("load_balancer.backend_protocol",
                        "clients' traffic crosses the network between the balancer and the hosts in clear text",
                        "remove backend_protocol (https re-encrypts) unless that network is private to you")


@rule("haproxy.hosts-required", ("load_balancer.kind", "load_balancer.hosts"))
def _haproxy_needs_hosts(data: ProfileData) -> Iterator[Violation]:
    if value(data, "load_balancer.kind") == "haproxy" and not _hosts(data):
        yield Violation("load_balancer", "HAProxy has no hosts to send clients to",
                        "list them under load_balancer.hosts, such as - {name: web-a, address: 10.0.1.11}")


@rule("balancer.server-name", ("load_balancer.kind", "site.server_names"))
def _balancer_needs_a_concrete_name(data: ProfileData) -> Iterator[Violation]:
    names = value(data, "site.server_names") or []
    if value(data, "load_balancer.kind") != "none" and names and all("*" in str(name) for name in names):
        yield Violation("site.server_names",
                        "every server name is a wildcard: the balancer has no name for its health checks, the "
                        "hosts' certificate check (SNI, verifyhost) and verify",
                        "list the dashboard's own name first, such as dashboard.example.com, before any wildcard")


@rule("balancer.health-check-path", ("load_balancer.kind", "load_balancer.health_check_path", "socketio.path"))
def _health_check_on_a_plain_route(data: ProfileData) -> Iterator[Violation]:
    path, socket_path = value(data, "load_balancer.health_check_path"), value(data, "socketio.path")
    if value(data, "load_balancer.kind") == "none" or not isinstance(path, str):
        return
    if path == socket_path or path.startswith(f"{socket_path}/"):
        yield Violation("load_balancer.health_check_path",
                        f"{path} is the Engine.IO route: every probe would open a session (and nginx redirects "
                        f"{socket_path} to {socket_path}/), so every host would look down",
                        "use /healthz, the route the hosts' nginx and the bundled server keep for health checks")
    elif path == "/metrics":
        yield Violation("load_balancer.health_check_path", "/metrics is closed to everyone but the instances' "
                                                           "loopback: every host would look down",
                        "use /healthz")


@rule("balancer.short-stickiness", ("load_balancer.kind", "load_balancer.stickiness",
                                    "load_balancer.stickiness_duration"), severity="warning")
def _stickiness_outlives_sessions(data: ProfileData) -> Iterator[Violation]:
    seconds = value(data, "load_balancer.stickiness_duration")
    if value(data, "load_balancer.kind") != "none" and value(data, "load_balancer.stickiness") == "cookie" \
            and isinstance(seconds, int) and seconds < SHORTEST_STICKINESS:
        yield Violation("load_balancer.stickiness_duration",
                        f"a polling session older than {seconds} s loses its host: the next request may reach "
                        "another host and fail with 'Session ID unknown' (the client then reconnects)",
                        f"set load_balancer.stickiness_duration to at least {SHORTEST_STICKINESS} (86400 is usual)")


@rule("alb.name-internal", ("load_balancer.kind", "load_balancer.name", "name"))
def _alb_name_is_allowed(data: ProfileData) -> Iterator[Violation]:
    explicit = value(data, "load_balancer.name")
    name = explicit or data.get("name")
    if _alb(data) and isinstance(name, str) and name.startswith("internal-"):
        yield Violation("load_balancer.name" if explicit else "name",
                        f"AWS refuses load balancer names that begin with internal- ({name})",
                        "set load_balancer.name to a name without that prefix")


@rule("alb.ssl-policy", ("load_balancer.kind", "load_balancer.ssl_policy"), replaces=("schema.pattern",))
def _alb_policy_is_known_and_current(data: ProfileData) -> Iterator[Violation]:
    policy = value(data, "load_balancer.ssl_policy")
    if not _alb(data) or not isinstance(policy, str):
        return
    if policy not in elb_policies.SSL_POLICIES:
        yield Violation("load_balancer.ssl_policy", f"{policy} is not a predefined ALB security policy",
                        "remove ssl_policy (it follows tls.profile), or name one such as "
                        "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09")
    elif elb_policies.accepts_legacy_tls(policy):
        yield Violation("load_balancer.ssl_policy", f"{policy} accepts TLS 1.0 or 1.1, below Mozilla's floor",
                        "remove ssl_policy (it follows tls.profile), or use ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09")


@rule("alb.tls-required", ("load_balancer.kind", "tls.profile"))
def _alb_terminates_tls(data: ProfileData) -> Iterator[Violation]:
    if _alb(data) and value(data, "tls.profile") == "off":
        yield Violation("tls.profile", "the ALB module always terminates TLS (an HTTPS listener and a redirect), "
                                       "but tls.profile is off",
                        "set tls.profile: intermediate, or use load_balancer.kind: haproxy for a plain HTTP trial")


@rule("cors.site-origin-missing", ("socketio.cors_allowed_origins", "site.server_names", "tls.profile",
                                   "load_balancer.kind"), severity="warning")
def _site_can_reach_itself(data: ProfileData) -> Iterator[Violation]:
    origins = value(data, "socketio.cors_allowed_origins")
    names = value(data, "site.server_names")
    if not origins or "*" in origins or not all_match("origin", origins) or not all_match("hostname", names):
        return  # the schema and cors.origin-format report malformed values; nothing here echoes them
    own = site_origins(data)
    if own and not any(_served_by_site(data, origin) for origin in origins if isinstance(origin, str)):
        yield Violation("socketio.cors_allowed_origins",
                        f"the site's own pages ({', '.join(own)}, such as the status page at /) are not among the "
                        "allowed origins: their sockets are refused with 'not an accepted origin'",
                        f"add {own[0]} (with its port when it is not the default)")
