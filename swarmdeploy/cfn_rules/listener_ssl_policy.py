"""A listener's SslPolicy is one of the predefined ELBSecurityPolicy names: a misspelt one fails only
at deploy time, and cfn-lint's schema accepts any string."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from swarmdeploy.cfn_rules import _elbv2


class ListenerSslPolicy(CloudFormationLintRule):
    id = "E9103"
    shortdesc = "Listener SslPolicy is a predefined ELB security policy"
    description = ("SslPolicy of an HTTPS or TLS listener names a predefined policy, such as "
                   "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09 (Mozilla intermediate) or "
                   "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09 (Mozilla modern)")
    source_url = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html"
    tags = ["resources", "elasticloadbalancingv2", "swarmdeploy"]

    def match(self, cfn: Template) -> list[RuleMatch]:
        matches = []
        for name, properties in _elbv2.resources(cfn, "AWS::ElasticLoadBalancingV2::Listener"):
            policy = _elbv2.literal(properties.get("SslPolicy"))
            known = _elbv2.SSL_POLICIES
            if properties.get("Protocol") == "TLS":
                known = known | _elbv2.SSL_POLICIES_NETWORK_ONLY
            if policy is not None and policy not in known:
                matches.append(RuleMatch(["Resources", name, "Properties", "SslPolicy"],
                                         f"SslPolicy {policy} is not a predefined ELB security policy; "
                                         "use ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09 (intermediate) or "
                                         "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09 (modern)"))
        return matches
