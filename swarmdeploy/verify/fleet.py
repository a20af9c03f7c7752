"""The places a client can enter a deployment other than its public URL: each instance's own port
(on the host verify runs on) and each host behind the balancer (its nginx, under the public name)."""

from __future__ import annotations

import dataclasses

from swarmdeploy.verify.target import Target


@dataclasses.dataclass(frozen=True)
class Entry:
    label: str  # how a report names it: "web-a (10.0.1.11:443)" or "http://127.0.0.1:8050"
    target: Target


def instance_entries(target: Target) -> list[Entry]:
    """Each instance's own address: clients connected there are pinned to it by construction."""
    bind = target.expect("server.bind_host")
    return [Entry(f"http://{bind}:{port}", dataclasses.replace(target, url=f"http://{bind}:{port}", address=None))
            for port in target.expect("server.ports")]


def host_entries(target: Target) -> list[Entry]:
    """Each host's nginx as the balancer reaches it: its address, the public name in SNI and Host."""
    balancer = target.expect("load_balancer")
    scheme = "https" if balancer["backend_tls"] else "http"
    url = f"{scheme}://{balancer['backend_server_name']}:{balancer['backend_port']}"
    return [Entry(f"{host['name']} ({host['address_literal']}:{balancer['backend_port']})",
                  dataclasses.replace(target, url=url, address=host["address"], through_balancer=False))
            for host in balancer["hosts"]]


def crosses_hosts(target: Target) -> bool:
    """Verifying a balancer in front of several listed hosts (not one host's own nginx)."""
    return target.through_balancer and len(target.expect("load_balancer.hosts", [])) > 1
