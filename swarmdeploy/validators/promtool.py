"""`promtool check config` and `promtool check rules`: Prometheus's own parser reads the scrape configuration
(and the rule file it names) and the alerting rules, PromQL and annotation templates included."""

from __future__ import annotations

from swarmdeploy.validators.base import Tool, Validator, Verdict, execute
from swarmdeploy.validators.scratch import ScratchCopy
from swarmdeploy.verify.result import Status

CONFIG = "monitoring/prometheus.yml"
RULES = "monitoring/*.rules.yml"
PROMTOOL = Tool("promtool", "apt-get install --no-install-recommends prometheus")


def _verdict(argv: list[str]) -> Verdict:
    result = execute(argv)
    if result.returncode == 0:
        return Verdict(Status.PASS)
    return Verdict(Status.FAIL, (result.stderr + result.stdout).strip())


def _check_config(copy: ScratchCopy, program: str) -> Verdict:
    return _verdict([program, "check", "config", str(copy.path(CONFIG))])


def _check_rules(copy: ScratchCopy, program: str) -> Verdict:
    return _verdict([program, "check", "rules", *(str(copy.path(name)) for name in copy.matching([RULES]))])


CHECK_CONFIG = Validator("promtool check config", PROMTOOL, (CONFIG,), _check_config)
CHECK_RULES = Validator("promtool check rules", PROMTOOL, (RULES,), _check_rules)
