"""A target group's health check timeout is below its interval: AWS refuses the group otherwise
("Health check interval must be greater than the timeout"), and its default timeout of 5 s is not below
the shortest interval (5 s)."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from swarmdeploy.cfn_rules import _elbv2

DEFAULT_TIMEOUT = 5  # seconds, for HTTP and HTTPS target groups


class TargetGroupHealthCheckTimeout(CloudFormationLintRule):
    id = "E9105"
    shortdesc = "Target group health check timeout is below its interval"
    description = "HealthCheckTimeoutSeconds is smaller than HealthCheckIntervalSeconds"
    source_url = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html"
    tags = ["resources", "elasticloadbalancingv2", "swarmdeploy"]

    def match(self, cfn: Template) -> list[RuleMatch]:
        matches = []
        for name, properties in _elbv2.resources(cfn, "AWS::ElasticLoadBalancingV2::TargetGroup"):
            interval = _elbv2.literal(properties.get("HealthCheckIntervalSeconds"))
            timeout = _elbv2.literal(properties.get("HealthCheckTimeoutSeconds", DEFAULT_TIMEOUT))
            if interval and timeout and interval.isdigit() and timeout.isdigit() and int(timeout) >= int(interval):
                matches.append(RuleMatch(["Resources", name, "Properties", "HealthCheckTimeoutSeconds"],
                                         f"HealthCheckTimeoutSeconds {timeout} is not below "
                                         f"HealthCheckIntervalSeconds {interval}; AWS refuses the target group "
                                         "(set HealthCheckTimeoutSeconds below the interval)"))
        return matches
