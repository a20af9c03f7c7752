"""LoadBalancerAttributes of an Application Load Balancer: known keys, values in AWS's ranges."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from swarmdeploy.cfn_rules import _elbv2


class LoadBalancerAttributes(CloudFormationLintRule):
    id = "E9101"
    shortdesc = "Application Load Balancer attributes are known keys with accepted values"
    description = ("Each LoadBalancerAttributes Key is an Application Load Balancer attribute and each literal "
                   "Value is in AWS's range (idle_timeout.timeout_seconds 1-4000, booleans true or false, ...)")
    source_url = ("https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html"
                  "#load-balancer-attributes")
    tags = ["resources", "elasticloadbalancingv2", "swarmdeploy"]

    def match(self, cfn: Template) -> list[RuleMatch]:
        return [
            found
            for name, properties in _elbv2.resources(cfn, "AWS::ElasticLoadBalancingV2::LoadBalancer")
            # Network and Gateway Load Balancers have attributes of their own; swarmdeploy renders neither.
            if properties.get("Type", "application") == "application"
            for found in _elbv2.attribute_matches(name, properties, "LoadBalancerAttributes",
                                                  _elbv2.LOAD_BALANCER_ATTRIBUTES, "an Application Load Balancer")
        ]
