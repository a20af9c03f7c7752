"""DNS and TCP: does the name resolve, and does something listen on each public port?"""

from __future__ import annotations

import socket

from swarmdeploy.verify.result import Observation, Status
from swarmdeploy.verify.target import Target


def public_ports(target: Target) -> list[tuple[str, int]]:
    ports = [("url", target.port)]
    if target.http_port and target.scheme == "https":
        ports.append(("HTTP redirect", target.http_port))
    return ports


def _resolve(target: Target) -> Observation:
    if target.address:
        return Observation("DNS", Status.PASS, f"{target.hostname} -> {target.address} (given with --address)")
    try:
        addresses = sorted({info[4][0] for info in socket.getaddrinfo(target.hostname, target.port,
                                                                       type=socket.SOCK_STREAM)})
    except socket.gaierror as error:
        return Observation("DNS", Status.FAIL, f"{target.hostname} does not resolve ({error.strerror})",
                           f"create an A/AAAA record for {target.hostname}, or fix verify.url")
    return Observation("DNS", Status.PASS, f"{target.hostname} -> {', '.join(addresses)}")


def run(target: Target) -> list[Observation]:
    observations = [_resolve(target)]
    if observations[0].status is Status.FAIL:
        return observations
    for role, port in public_ports(target):
        try:
            with socket.create_connection((target.connect_host(), port), timeout=target.timeout):
                observations.append(Observation(f"TCP {port}", Status.PASS, f"port {port} ({role}) accepts connections"))
        except ConnectionRefusedError:
            observations.append(Observation(f"TCP {port}", Status.FAIL, f"nothing listens on {target.hostname}:{port}",
                                            f"start nginx (it listens on {port}) or check site ports in the profile"))
        except OSError as error:
            observations.append(Observation(f"TCP {port}", Status.FAIL, f"{target.hostname}:{port}: {error}",
                                            f"open port {port} in the firewall or security group"))
    return observations
