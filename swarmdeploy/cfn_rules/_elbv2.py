"""What Elastic Load Balancing accepts where cfn-lint's schemas only say "a string", and the walk over
Key/Value attribute lists that the attribute rules share. Values from intrinsic functions (!Ref ...)
are known only at deploy time and are left alone."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from cfnlint.rules import RuleMatch
from cfnlint.template import Template

from swarmdeploy import elb_policies


@dataclass(frozen=True)
class Accepts:
    """The values AWS accepts for one setting, and how a message names them."""

    test: Callable[[str], bool]
    said: str


def boolean() -> Accepts:
    return Accepts(lambda value: value in ("true", "false"), "true or false")


def integer(low: int, high: int) -> Accepts:
    return Accepts(lambda value: value.isdigit() and low <= int(value) <= high, f"an integer from {low} to {high}")


def one_of(*values: str) -> Accepts:
    return Accepts(lambda value: value in values, " or ".join(values))


def text(pattern: str, said: str) -> Accepts:
    return Accepts(lambda value: re.fullmatch(pattern, value) is not None, said)


def off_or(accepts: Accepts) -> Accepts:
    return Accepts(lambda value: value == "off" or accepts.test(value), f"off or {accepts.said}")


BUCKET = text(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "an S3 bucket name")
LOG_PREFIX = text(r"(?!.*AWSLogs)[^/](.*[^/])?", "a prefix without AWSLogs that neither starts nor ends with /")

# Application Load Balancer attributes (LoadBalancerAttributes).
LOAD_BALANCER_ATTRIBUTES: dict[str, Accepts] = {
    **{f"{logs}.s3.enabled": boolean() for logs in ("access_logs", "connection_logs", "health_check_logs")},
    **{f"{logs}.s3.bucket": BUCKET for logs in ("access_logs", "connection_logs", "health_check_logs")},
    **{f"{logs}.s3.prefix": LOG_PREFIX for logs in ("access_logs", "connection_logs", "health_check_logs")},
    "client_keep_alive.seconds": integer(60, 604800),
    "deletion_protection.enabled": boolean(),
    "idle_timeout.timeout_seconds": integer(1, 4000),
    "ipv6.deny_all_igw_traffic": boolean(),
    "load_balancing.cross_zone.enabled": boolean(),
    "routing.http.desync_mitigation_mode": one_of("monitor", "defensive", "strictest"),
    "routing.http.drop_invalid_header_fields.enabled": boolean(),
    "routing.http.preserve_host_header.enabled": boolean(),
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": boolean(),
    "routing.http.xff_client_port.enabled": boolean(),
    "routing.http.xff_header_processing.mode": one_of("append", "preserve", "remove"),
    "routing.http2.enabled": boolean(),
    "waf.fail_open.enabled": boolean(),
    "zonal_shift.config.enabled": boolean(),
}

# Attributes of a target group behind an Application Load Balancer (TargetGroupAttributes).
TARGET_GROUP_ATTRIBUTES: dict[str, Accepts] = {
    "deregistration_delay.timeout_seconds": integer(0, 3600),
    "lambda.multi_value_headers.enabled": boolean(),
    "load_balancing.algorithm.anomaly_mitigation": one_of("on", "off"),
    "load_balancing.algorithm.type": one_of("round_robin", "least_outstanding_requests", "weighted_random"),
    "load_balancing.cross_zone.enabled": one_of("true", "false", "use_load_balancer_configuration"),
    "slow_start.duration_seconds": Accepts(lambda value: value == "0" or integer(30, 900).test(value),
                                           "0 or an integer from 30 to 900"),
    "stickiness.app_cookie.cookie_name": text(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", "a cookie name"),
    "stickiness.app_cookie.duration_seconds": integer(1, 604800),
    "stickiness.enabled": boolean(),
    "stickiness.lb_cookie.duration_seconds": integer(1, 604800),
    # source_ip and the source_ip_dest_ip kinds belong to Network and Gateway Load Balancers.
    "stickiness.type": one_of("lb_cookie", "app_cookie"),
    "target_group_health.dns_failover.minimum_healthy_targets.count": text(r"off|[1-9][0-9]*", "off or a count"),
    "target_group_health.dns_failover.minimum_healthy_targets.percentage": off_or(integer(1, 100)),
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": text(r"[1-9][0-9]*", "a count"),
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": off_or(integer(1, 100)),
}

SSL_POLICIES = elb_policies.SSL_POLICIES
SSL_POLICIES_NETWORK_ONLY: frozenset[str] = frozenset({"ELBSecurityPolicy-2015-05"})

REDIRECT_STATUS_CODES = ("HTTP_301", "HTTP_302")


def literal(value: Any) -> str | None:
    """A setting as AWS reads it (CloudFormation passes numbers and booleans as strings); None for an
    intrinsic function, whose value is known only at deploy time."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (str, int)):
        return str(value)
    return None


def resources(cfn: Template, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, Properties) of every resource of the type whose Properties is a plain mapping."""
    for name, resource in cfn.get_resources([resource_type]).items():
        properties = resource.get("Properties")
        if isinstance(properties, dict):
            yield name, properties


def attribute_matches(name: str, properties: dict[str, Any], prop: str, accepted: dict[str, Accepts],
                      owner: str) -> Iterator[RuleMatch]:
    """A match for every unknown key and every literal value AWS refuses in a Key/Value attribute list."""
    attributes = properties.get(prop)
    if not isinstance(attributes, list):
        return
    for index, attribute in enumerate(attributes):
        if not isinstance(attribute, dict) or not isinstance(attribute.get("Key"), str):
            continue
        path = ["Resources", name, "Properties", prop, index]
        key = attribute["Key"]
        if key not in accepted:
            yield RuleMatch([*path, "Key"], f"{prop} key {key} is not an attribute of {owner}")
            continue
        value = literal(attribute.get("Value"))
        if value is not None and not accepted[key].test(value):
            yield RuleMatch([*path, "Value"], f"{prop} {key} is {value}; {owner} accepts {accepted[key].said}")
