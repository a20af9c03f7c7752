"""The predefined TLS policies of Elastic Load Balancing listeners (2025-09), and the oldest TLS version
each accepts: shared by the profile rules and the project's cfn-lint rules."""

from __future__ import annotations

# Predefined listener security policies (Application and Network Load Balancers), 2025-09.
SSL_POLICIES: frozenset[str] = frozenset({
    "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",  # Mozilla intermediate
    "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",  # Mozilla modern
    *(f"ELBSecurityPolicy-TLS13-{variant}-PQ-2025-09"
      for variant in ("1-0", "1-2", "1-2-Ext1", "1-2-Ext2")),
    *(f"ELBSecurityPolicy-TLS13-{variant}-FIPS-PQ-2025-09"
      for variant in ("1-0", "1-2", "1-2-Res", "1-2-Ext0", "1-2-Ext1", "1-2-Ext2", "1-3")),
    *(f"ELBSecurityPolicy-TLS13-{variant}-2021-06"
      for variant in ("1-0", "1-1", "1-2", "1-2-Res", "1-2-Ext1", "1-2-Ext2", "1-3")),
    *(f"ELBSecurityPolicy-TLS13-{variant}-FIPS-2023-04"
      for variant in ("1-0", "1-1", "1-2", "1-2-Res", "1-2-Ext0", "1-2-Ext1", "1-2-Ext2", "1-3")),
    *(f"ELBSecurityPolicy-TLS13-{variant}-FIPS-2023-07"
      for variant in ("1-2-RFC9151", "1-2-Ext0-RFC9151", "1-3-RFC9151",
                      *(f"1-2-RFC9151-INTEROP{n}" for n in range(1, 5)))),
    "ELBSecurityPolicy-FS-1-2-Res-2020-10",
    "ELBSecurityPolicy-FS-1-2-Res-2019-08",
    "ELBSecurityPolicy-FS-1-2-2019-08",
    "ELBSecurityPolicy-FS-1-1-2019-08",
    "ELBSecurityPolicy-FS-2018-06",
    "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
    "ELBSecurityPolicy-TLS-1-2-2017-01",
    "ELBSecurityPolicy-TLS-1-1-2017-01",
    "ELBSecurityPolicy-TLS-1-0-2015-04",
    "ELBSecurityPolicy-2016-08",  # what CloudFormation picks when SslPolicy is absent: TLS 1.0
})

# Policies that still accept TLS 1.0 or 1.1, below Mozilla's intermediate floor (TLS 1.2).
_LEGACY = ("ELBSecurityPolicy-TLS13-1-0-", "ELBSecurityPolicy-TLS13-1-1-", "ELBSecurityPolicy-FS-1-1-",
           "ELBSecurityPolicy-FS-2018-06", "ELBSecurityPolicy-TLS-1-1-", "ELBSecurityPolicy-TLS-1-0-",
           "ELBSecurityPolicy-2016-08")


def accepts_legacy_tls(policy: str) -> bool:
    return policy.startswith(_LEGACY)
