"""A redirect action answers HTTP_301 or HTTP_302, the only status codes an ELB redirect has."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch
from cfnlint.template import Template

from swarmdeploy.cfn_rules import _elbv2

ACTION_LISTS = {
    "AWS::ElasticLoadBalancingV2::Listener": "DefaultActions",
    "AWS::ElasticLoadBalancingV2::ListenerRule": "Actions",
}


class ListenerRedirectStatusCode(CloudFormationLintRule):
    id = "E9104"
    shortdesc = "Redirect actions use HTTP_301 or HTTP_302"
    description = "RedirectConfig StatusCode of a listener's or listener rule's action is HTTP_301 or HTTP_302"
    source_url = ("https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-listeners.html"
                  "#redirect-actions")
    tags = ["resources", "elasticloadbalancingv2", "swarmdeploy"]

    def match(self, cfn: Template) -> list[RuleMatch]:
        matches = []
        for resource_type, prop in ACTION_LISTS.items():
            for name, properties in _elbv2.resources(cfn, resource_type):
                actions = properties.get(prop)
                for index, action in enumerate(actions if isinstance(actions, list) else []):
                    redirect = action.get("RedirectConfig") if isinstance(action, dict) else None
                    code = _elbv2.literal(redirect.get("StatusCode")) if isinstance(redirect, dict) else None
                    if code is not None and code not in _elbv2.REDIRECT_STATUS_CODES:
                        matches.append(RuleMatch(
                            ["Resources", name, "Properties", prop, index, "RedirectConfig", "StatusCode"],
                            f"redirect StatusCode {code} is not one of {', '.join(_elbv2.REDIRECT_STATUS_CODES)}"))
        return matches
