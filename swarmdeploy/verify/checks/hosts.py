"""Behind a balancer: every listed host's nginx answers /healthz, so a host that is down is named,
not hidden by the balancer sending everyone to the others."""

from __future__ import annotations

import json
import ssl

from swarmdeploy.verify.engineio import http_request
from swarmdeploy.verify.fleet import Entry, host_entries
from swarmdeploy.verify.result import Observation, Status
from swarmdeploy.verify.target import Target

def _probe(entry: Entry) -> tuple[Observation, bool]:
    """The host's observation, and whether verify could reach its network at all."""
    health = entry.target.expect("load_balancer.health_check_path")
    try:
        response = http_request(entry.target, "GET", f"{entry.target.base}{health}")
    except ssl.SSLError as error:
        return Observation(entry.label, Status.FAIL, f"TLS: {error}",
                           "pass --ca-file with the CA that signed the hosts' certificate (the balancer trusts "
                           "load_balancer.backend_ca_file)"), True
    except ConnectionRefusedError:
        return Observation(entry.label, Status.FAIL, "connection refused: nginx is not running there",
                           f"on {entry.label.split()[0]}: swarmdeploy status, then start its services (or deploy it); "
                           "the balancer sends its clients to the other hosts meanwhile"), True
    except OSError as error:  # no route, filtered, timed out: perhaps only private to that network
        return Observation(entry.label, Status.FAIL, f"no answer: {error}",
                           "the host is down or its network is unreachable from here"), False
    try:
        state = json.loads(response.text).get("status", "?")  # the public answer: status only
    except ValueError:
        state = "?"
    if response.status == 200:
        return Observation(entry.label, Status.PASS, f"{health} answered 200 ({state})"), True
    return Observation(entry.label, Status.FAIL, f"{health} answered HTTP {response.status}",
                       f"on {entry.label.split()[0]}: swarmdeploy status shows which instance is down"), True


def run(target: Target) -> list[Observation]:
    if not target.through_balancer or not target.expect("load_balancer.hosts"):
        return [Observation("hosts", Status.SKIP, "no balancer with listed hosts (load_balancer.hosts)")]
    probes = [_probe(entry) for entry in host_entries(target)]
    if not any(reached for _, reached in probes):
        # From outside the hosts' private network none answers; that says nothing about them.
        return [Observation("hosts", Status.WARN, f"none of the {len(probes)} hosts is reachable from here "
                                                  f"({probes[0][0].saw})",
                            "run verify on a machine inside the hosts' network to check each host")]
    return [observation for observation, _ in probes]
