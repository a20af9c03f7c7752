"""Rules of several hosts behind a balancer (HAProxy or an AWS ALB): stickiness, the shared queue,
AWS's accepted ranges, and what the balancer needs of its own."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from urllib.parse import urlsplit

from swarmdeploy.model import site_origins
from swarmdeploy.rules.core import ProfileData, Violation, rule, value

ALB_HEALTH_CHECK_INTERVAL = (5, 300)
ALB_MIN_THRESHOLD = 2
AWS_NAME_LENGTH = 32
TARGET_GROUP_SUFFIX = "-tg"


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


@rule("alb.name-length", ("load_balancer.kind", "load_balancer.name", "name"))
def _alb_names_fit(data: ProfileData) -> Iterator[Violation]:
    if not _alb(data):
        return
    explicit = value(data, "load_balancer.name")
    base = explicit or data.get("name")
    if isinstance(base, str) and len(base) + len(TARGET_GROUP_SUFFIX) > AWS_NAME_LENGTH:
        longest = AWS_NAME_LENGTH - len(TARGET_GROUP_SUFFIX)
        yield Violation("load_balancer.name" if explicit else "name",
                        f"the target group name {base}{TARGET_GROUP_SUFFIX} has {len(base) + len(TARGET_GROUP_SUFFIX)} "
                        f"characters; AWS allows {AWS_NAME_LENGTH}",
                        f"set load_balancer.name to at most {longest} characters, such as {base[:longest].rstrip('-')}")


@rule("balancer.hosts-need-balancer", ("load_balancer.kind", "load_balancer.hosts"))
def _hosts_need_a_balancer(data: ProfileData) -> Iterator[Violation]:
    if _hosts(data) and value(data, "load_balancer.kind") == "none":
        yield Violation("load_balancer.hosts", "hosts are listed but no balancer spreads clients over them",
                        "set load_balancer.kind: haproxy or alb, or remove load_balancer.hosts")


@rule("hosts.unique", ("load_balancer.hosts",))
def _hosts_are_unique(data: ProfileData) -> Iterator[Violation]:
    seen: dict[str, set[str]] = {"name": set(), "address": set()}
    for index, host in enumerate(_hosts(data)):
        for field, known in seen.items():
            label = host.get(field)
            if label in known:
                yield Violation(f"load_balancer.hosts.{index}.{field}", f"host {field} {label} is listed twice",
                                f"give every host its own {field}, or remove the repeated entry")
            known.add(label)


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
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


@rule("hosts.shared-queue", ("load_balancer.hosts", "server.message_queue"))
def _hosts_share_one_queue(data: ProfileData) -> Iterator[Violation]:
    url = value(data, "server.message_queue")
    if len(_hosts(data)) > 1 and isinstance(url, str) and _is_loopback(urlsplit(url).hostname):
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


@rule("cors.cross-origin-cookie", ("load_balancer.kind", "load_balancer.stickiness", "socketio.transports",
                                   "socketio.cors_allowed_origins", "site.server_names", "tls.profile"),
      severity="warning")
def _cross_origin_clients_need_credentials(data: ProfileData) -> Iterator[Violation]:
    origins = value(data, "socketio.cors_allowed_origins") or []
    if value(data, "load_balancer.kind") == "none" or value(data, "load_balancer.stickiness") != "cookie" \
            or "polling" not in value(data, "socketio.transports"):
        return
    own = set(site_origins(data))
    foreign = [origin for origin in origins if origin != "*" and origin not in own]
    if foreign:
        cookie = "AWSALB" if _alb(data) else value(data, "load_balancer.cookie_name")
        yield Violation("socketio.cors_allowed_origins",
                        f"pages served from {', '.join(foreign)} poll this site cross-origin: browsers send the "
                        f"stickiness cookie {cookie} only with credentials, or polling fails with 'Session ID unknown'",
                        "create the client with withCredentials: true (socket.io-client), or serve the page from "
                        "the site's own origin")


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
