"""TargetGroupAttributes of a target group behind an Application Load Balancer: known keys, values in
AWS's ranges (stickiness type and duration, deregistration delay, ...)."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from swarmdeploy.cfn_rules import _elbv2


class TargetGroupAttributes(CloudFormationLintRule):
    id = "E9102"
    shortdesc = "Application Load Balancer target group attributes are known keys with accepted values"
    description = ("Each TargetGroupAttributes Key of an HTTP or HTTPS target group is an attribute AWS knows and "
                   "each literal Value is accepted (stickiness.type lb_cookie or app_cookie, "
                   "stickiness.lb_cookie.duration_seconds 1-604800, deregistration_delay.timeout_seconds 0-3600, ...)")
    source_url = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-target-group-attributes.html"
    tags = ["resources", "elasticloadbalancingv2", "swarmdeploy"]

    def match(self, cfn: Template) -> list[RuleMatch]:
        return [
            found
            for name, properties in _elbv2.resources(cfn, "AWS::ElasticLoadBalancingV2::TargetGroup")
            # HTTP and HTTPS target groups (and Lambda ones, which have no protocol) are the ALB's.
            if properties.get("Protocol") in ("HTTP", "HTTPS") or properties.get("TargetType") == "lambda"
            for found in _elbv2.attribute_matches(name, properties, "TargetGroupAttributes",
                                                  _elbv2.TARGET_GROUP_ATTRIBUTES,
                                                  "an Application Load Balancer's target group")
        ]
