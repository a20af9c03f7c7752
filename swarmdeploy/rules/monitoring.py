"""Rules of the monitoring target: a Prometheus scraping the hosts from elsewhere must be able to reach
every instance's /metrics (docs/monitoring.md, "How Prometheus reaches the instances")."""

from __future__ import annotations

from collections.abc import Iterator

from swarmdeploy.rules import addresses
from swarmdeploy.rules.core import ProfileData, Violation, rule, value


def _loopback(bind: str) -> bool:
    address = addresses.ip_address(bind)
    return bind == "localhost" or (address is not None and address.is_loopback)


@rule("monitoring.scrape-hosts", ("monitoring.scrape", "load_balancer.hosts", "server.metrics_public", "server.bind"))
def _hosts_reachable_from_prometheus(data: ProfileData) -> Iterator[Violation]:
    if value(data, "monitoring.scrape") != "hosts":
        return
    if not value(data, "load_balancer.hosts"):
        yield Violation("monitoring.scrape", "scrape: hosts scrapes each host of load_balancer.hosts, and none is listed",
                        "list the hosts under load_balancer.hosts, or set monitoring.scrape: local (a Prometheus "
                        "on the host scrapes its instances)")
    if not value(data, "server.metrics_public"):
        yield Violation("server.metrics_public",
                        "scrape: hosts needs /metrics from other machines, and the instances answer it on loopback only",
                        "set server.metrics_public: true (and let only Prometheus reach the instance ports), or "
                        "monitoring.scrape: local")
    bind = value(data, "server.bind")
    if isinstance(bind, str) and _loopback(bind):
        yield Violation("server.bind",
                        f"scrape: hosts connects to each host's address, and the instances listen on {bind} only",
                        "set server.bind to 0.0.0.0 or the host's private address (firewalled to Prometheus), or "
                        "monitoring.scrape: local")
