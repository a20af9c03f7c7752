"""Rules past the schema: what makes a profile incoherent across layers (single_host, balancer), a value
meaningless to the program that receives it (semantic), or instances its monitoring cannot reach
(monitoring). Each has an id, a message and a fix.

Every rule module registers into RULES when imported here; the order is the order of the checks.
"""

from swarmdeploy.rules import single_host  # noqa: F401, I001 - importing registers the rules, in this order
from swarmdeploy.rules import balancer  # noqa: F401
from swarmdeploy.rules import semantic  # noqa: F401
from swarmdeploy.rules import monitoring  # noqa: F401
from swarmdeploy.rules.core import RULES, Rule, Violation

__all__ = ["RULES", "Rule", "Violation"]
