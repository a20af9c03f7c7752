"""The places a client can enter a deployment other than its public URL: each instance's own port
(on the host verify runs on) and each host behind the balancer (its nginx, under the public name,
judged as the balancer judges it)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from swarmdeploy.verify.target import Target

# What a balancer answers when it has no host in service (HAProxy 503) or its host failed it (502, 504).
BALANCER_ERRORS = (502, 503, 504)
NO_HOST_IN_SERVICE = "the balancer has no host in service for this request: the hosts check names why"


@dataclasses.dataclass(frozen=True)
class Entry:
    label: str  # how a report names it: "web-a (10.0.1.11:443)" or "http://127.0.0.1:8050"
    target: Target
    name: str  # what an operator calls it in a command: "web-a", "instance-8050"


@dataclasses.dataclass(frozen=True)
class Trust:
    """The CA bundle the hosts' certificates are judged against, and why that one (for the report)."""

    ca_file: Path | None
    source: str
    as_balancer: bool  # the same trust as the balancer's, so a host verify passes is a host it accepts


def instance_entries(target: Target) -> list[Entry]:
    """Each instance's own address: clients connected there are pinned to it by construction."""
    bind = target.expect("server.bind_host")
    return [Entry(f"http://{bind}:{port}", dataclasses.replace(target, url=f"http://{bind}:{port}", address=None),
                  f"instance-{port}")
            for port in target.expect("server.ports")]


def backend_trust(target: Target) -> Trust:
    """HAProxy verifies the hosts against load_balancer.backend_ca_file (the system store without one). Where
    that file is not readable, verify's own CA stands in, and the report says so. The ALB checks no target
    certificate, so verify's own CA judges them there."""
    balancer = target.expect("load_balancer")
    configured = balancer["backend_ca_file"]
    if configured and os.access(configured, os.R_OK):
        return Trust(Path(configured), f"load_balancer.backend_ca_file ({configured})", True)
    if balancer["kind"] == "haproxy" and not configured:
        return Trust(None, "the system store (HAProxy's @system-ca: no load_balancer.backend_ca_file)", True)
    own = _own_trust(target)
    if configured:
        return dataclasses.replace(own, source=f"{own.source}: load_balancer.backend_ca_file ({configured}) is "
                                               "not readable here")
    return own


def _own_trust(target: Target) -> Trust:
    if target.ca_file is None:
        return Trust(None, "the system store", False)
    profile_ca = target.expect("verify.ca_file")
    option = "verify.ca_file" if profile_ca and Path(profile_ca) == Path(target.ca_file) else "--ca-file"
    return Trust(target.ca_file, f"{option} ({target.ca_file})", False)


def host_entries(target: Target) -> list[Entry]:
    """Each host's nginx as the balancer reaches it: its address, the public name in SNI, Host and the
    certificate check, the balancer's trust, whatever the public certificate did (insecure=False)."""
    balancer = target.expect("load_balancer")
    scheme = "https" if balancer["backend_tls"] else "http"
    url = f"{scheme}://{balancer['backend_server_name']}:{balancer['backend_port']}"
    ca_file = backend_trust(target).ca_file
    return [Entry(f"{host['name']} ({host['address_literal']}:{balancer['backend_port']})",
                  dataclasses.replace(target, url=url, address=host["address"], through_balancer=False,
                                      ca_file=ca_file, insecure=False), host["name"])
            for host in balancer["hosts"]]


def crosses_hosts(target: Target) -> bool:
    """Verifying a balancer in front of several listed hosts (not one host's own nginx)."""
    return target.through_balancer and len(target.expect("load_balancer.hosts", [])) > 1
