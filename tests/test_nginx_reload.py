"""A reload counts only once no old worker accepts: a certificate rotated at the same path and reloaded
must be the only one clients meet as soon as the reload is confirmed (deploy verifies right after)."""

from __future__ import annotations

import os
import signal
import socket
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from server_stack import free_ports, start_instances, start_nginx, write_profile

from conftest import require_tool
from swarmdeploy.deploy.certificates import PrivateCA
from swarmdeploy.deploy.nginx_control import confirm_reload, workers

pytestmark = pytest.mark.integration

HANDSHAKES = 40


def _served_serial(port: int) -> int:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True)).serial_number


def test_after_a_confirmed_reload_every_connection_meets_the_new_configuration(supervisor, tmp_path: Path) -> None:
    require_tool("nginx")
    authority = PrivateCA(tmp_path / "ca.pem")
    chain, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    authority.issue(chain, key, ["localhost"])
    profile = write_profile(tmp_path, tls={"profile": "intermediate", "certificate": str(chain),
                                          "certificate_key": str(key)}, site={"https_port": free_ports(1)},
                            proxy={"worker_processes": 4})
    stack = start_instances(supervisor, profile)
    nginx = start_nginx(supervisor, tmp_path / "nginx", stack.files, stack.model["name"])
    port = stack.model["site"]["https_port"]
    old = _served_serial(port)

    authority.issue(chain, key, ["localhost"])  # rotated in place, as certbot does
    new = x509.load_pem_x509_certificate(chain.read_bytes()).serial_number
    before = workers(nginx.pid)
    os.kill(nginx.pid, signal.SIGHUP)
    confirm_reload(nginx.pid, before, str(tmp_path))

    served = [_served_serial(port) for _ in range(HANDSHAKES)]
    assert old != new and served == [new] * HANDSHAKES, f"{served.count(old)} of {HANDSHAKES} met the old certificate"
