"""Behind a balancer: every listed host judged as the balancer judges it (its certificate against the
balancer's CA and load_balancer.backend_server_name, its health path) and running the profile's ping
settings; then the health path through the balancer itself, so hosts it has taken out while they
answer are blamed on its health checks, not on nginx."""

from __future__ import annotations

import dataclasses
import json
import ssl

import websockets

from swarmdeploy.verify.checks.handshake import open_packet, ping_mismatches
from swarmdeploy.verify.engineio import EngineIOError, http_request
from swarmdeploy.verify.fleet import BALANCER_ERRORS, Entry, Trust, backend_trust, host_entries
from swarmdeploy.verify.result import Observation, Status
from swarmdeploy.verify.target import Target

HOSTNAME_MISMATCH, EXPIRED = 62, 10  # OpenSSL verify codes


@dataclasses.dataclass(frozen=True)
class Probe:
    name: str  # the host's name in load_balancer.hosts
    observation: Observation
    reached: bool  # verify reached the host's network at all
    healthy: bool  # it answered the health path with 200


def balancer_state_hint(target: Target) -> str:
    """Where an operator sees which hosts the balancer has taken out, and why."""
    if target.expect("load_balancer.kind") == "alb":
        return "aws elbv2 describe-target-health shows each target's state and the reason"
    return (f"the HAProxy stats page on the balancer (curl http://127.0.0.1:{target.expect('load_balancer.stats_port')}"
            "/stats) shows each host's state and its last check")


def _certificate_fix(target: Target, entry: Entry, trust: Trust, error: ssl.SSLError) -> str:
    name = target.expect("load_balancer.backend_server_name")
    code = getattr(error, "verify_code", None)
    if code == HOSTNAME_MISMATCH:
        return (f"{entry.name}'s certificate does not name {name} (load_balancer.backend_server_name, the first of "
                f"site.server_names), so the balancer refuses it (HAProxy verifyhost): reissue it for {name} and "
                "restart nginx there")
    if code == EXPIRED:
        return f"{entry.name}'s certificate has expired: renew its tls.certificate and restart nginx there"
    if code is None:
        return (f"on {entry.name}: check tls.certificate/tls.certificate_key and that nginx listens with ssl on "
                f"{entry.target.port}")
    if trust.as_balancer:
        return (f"{entry.name}'s certificate is not signed by a CA in {trust.source}, so the balancer refuses it: "
                "sign it with that CA and restart nginx there, or add its CA to load_balancer.backend_ca_file and "
                "reload the balancer")
    return ("pass --ca-file with the CA that signed the hosts' certificates, or run verify where "
            "load_balancer.backend_ca_file is readable, to judge them as the balancer does")


def _health(target: Target, entry: Entry, trust: Trust) -> Probe:
    path = target.expect("load_balancer.health_check_path")
    try:
        response = http_request(entry.target, "GET", f"{entry.target.base}{path}")
    except ssl.SSLError as error:
        saw = f"TLS: {getattr(error, 'verify_message', None) or error} (judged against {trust.source})"
        return Probe(entry.name, Observation(entry.label, Status.FAIL, saw, _certificate_fix(target, entry, trust, error)),
                     True, False)
    except ConnectionRefusedError:
        return Probe(entry.name, Observation(entry.label, Status.FAIL, "connection refused: nginx is not running there",
                                 f"on {entry.name}: swarmdeploy status, then start its services (or deploy it); the "
                                 "balancer sends its clients to the other hosts meanwhile"), True, False)
    except OSError as error:  # no route, filtered, timed out: perhaps only private to that network
        return Probe(entry.name, Observation(entry.label, Status.FAIL, f"no answer: {error}",
                                 "the host is down or its network is unreachable from here"), False, False)
    if response.status != 200:
        return Probe(entry.name, Observation(entry.label, Status.FAIL, f"{path} answered HTTP {response.status}",
                                 f"on {entry.name}: swarmdeploy status shows which instance is down"), True, False)
    try:
        state = json.loads(response.text).get("status", "?")  # the public answer: status only
    except (ValueError, AttributeError):
        state = "?"
    return Probe(entry.name, Observation(entry.label, Status.PASS, f"{path} answered 200 ({state})"), True, True)


def _settings(target: Target, entry: Entry, healthy: Probe) -> Probe:
    """Through the balancer a client meets either host: each must run the profile's ping settings."""
    health = healthy.observation.saw
    try:
        handshake, _ = open_packet(entry.target)
    except (OSError, ValueError, EngineIOError, websockets.WebSocketException) as error:
        observation = Observation(entry.label, Status.FAIL, f"{health}, but no Engine.IO handshake: {error}",
                                  f"on {entry.name}: make {target.socketio_path}/ reach the instances; swarmdeploy "
                                  "status shows which is down")
        return dataclasses.replace(healthy, observation=observation)
    wrong = ping_mismatches(target, handshake)
    if wrong:
        observation = Observation(entry.label, Status.FAIL, f"{health}; it runs {'; '.join(wrong)}",
                                  f"{entry.name} runs other settings than this profile, so a client's settings depend "
                                  f"on the host the balancer picks: deploy this profile on {entry.name} (swarmdeploy "
                                  "deploy PROFILE there)")
        return dataclasses.replace(healthy, observation=observation)
    return dataclasses.replace(healthy, observation=Observation(
        entry.label, Status.PASS, f"{health}; pingInterval {handshake['pingInterval']} ms, pingTimeout "
                                  f"{handshake['pingTimeout']} ms as the profile says"))


def _probe(target: Target, entry: Entry, trust: Trust) -> Probe:
    probe = _health(target, entry, trust)
    return _settings(target, entry, probe) if probe.healthy else probe


def _health_check_fix(target: Target) -> str:
    balancer = target.expect("load_balancer")
    path = f"load_balancer.health_check_path ({balancer['health_check_path']})"
    if balancer["kind"] == "alb":
        return (f"the target group's health checks take out hosts: every host must answer {path} with 200 on port "
                f"{balancer['backend_port']}; {balancer_state_hint(target)}")
    tls = (f"HAProxy must trust the CA that signed the hosts' certificates (load_balancer.backend_ca_file) and find "
           f"{balancer['backend_server_name']} in them (the hosts' certificate name, checked by verifyhost), and "
           if balancer["backend_tls"] else "")
    return f"the balancer's health checks take out hosts: {tls}every host must answer {path} with 200; " \
           f"{balancer_state_hint(target)}"


def _balancer(target: Target, probes: list[Probe]) -> Observation:
    """The health path through the balancer: a 5xx while hosts answer is its health checks' doing."""
    path = target.expect("load_balancer.health_check_path")
    try:
        response = http_request(target, "GET", f"{target.base}{path}")
    except OSError as error:
        return Observation("balancer", Status.FAIL, f"no answer on {path}: {error}",
                           "see the reachability and tls checks")
    if response.status == 200:
        return Observation("balancer", Status.PASS, f"{path} through the balancer answered 200")
    answering = [p.name for p in probes if p.healthy]
    if response.status not in BALANCER_ERRORS:
        return Observation("balancer", Status.FAIL, f"{path} through the balancer answered HTTP {response.status}",
                           "the balancer must pass every path to the hosts (the rendered configuration does)")
    if answering:
        return Observation("balancer", Status.FAIL, f"the balancer answered {response.status} on {path} while "
                                                    f"{', '.join(answering)} answer it directly",
                           _health_check_fix(target))
    return Observation("balancer", Status.FAIL, f"the balancer answered {response.status} on {path}; no host answers "
                                                "it from here either",
                       f"bring the hosts up (above); if it still answers {response.status}, "
                       f"{_health_check_fix(target)}")


def _trust(target: Target, trust: Trust) -> Observation:
    name = target.expect("load_balancer.backend_server_name")
    how = "as the balancer does" if trust.as_balancer else "not as the balancer does"
    return Observation("trust", Status.PASS, f"the hosts' certificates judged against {trust.source} for the name "
                                             f"{name}, {how}")


def run(target: Target) -> list[Observation]:
    if not target.through_balancer or not target.expect("load_balancer.hosts"):
        return [Observation("hosts", Status.SKIP, "no balancer with listed hosts (load_balancer.hosts)")]
    trust = backend_trust(target)
    probes = [_probe(target, entry, trust) for entry in host_entries(target)]
    observations = [_trust(target, trust)] if target.expect("load_balancer.backend_tls") else []
    if any(probe.reached for probe in probes):
        observations += [probe.observation for probe in probes]
    else:
        # From outside the hosts' private network none answers; that says nothing about them.
        observations.append(Observation("hosts", Status.WARN, f"none of the {len(probes)} hosts is reachable from "
                                                              f"here ({probes[0].observation.saw})",
                                        "run verify on a machine inside the hosts' network to check each host"))
    return observations + [_balancer(target, probes)]
