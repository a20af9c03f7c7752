"""Render an example profile for this test host: same config, with paths that exist here.

Validators need real files (certificates, gunicorn, writable pid and log paths). Only those
path fields are changed; `restore_paths` maps the rendered text back so tests can prove the
validated config is the golden one.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from swarmdeploy.profile import load_profile
from swarmdeploy.render import render_files


@dataclass
class HostRender:
    files: dict[str, str]
    replacements: dict[str, str]  # test-host value -> value in the example profile's render

    def restore_paths(self, text: str) -> str:
        for host_value, original in self.replacements.items():
            text = text.replace(host_value, original)
        return text


def make_certificate(directory: Path, hostnames: list[str], days: int = 30) -> tuple[Path, Path]:
    """A self-signed ECDSA P-256 certificate valid for hostnames (works for both TLS profiles)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "fullchain.pem", directory / "privkey.pem"
    names = ",".join(f"DNS:{h}" for h in hostnames)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", str(days), "-subj", f"/CN={hostnames[0]}",
         "-addext", f"subjectAltName={names}"],
        check=True, capture_output=True,
    )
    return cert, key


def render_for_host(profile: Path, workdir: Path) -> HostRender:
    original = load_profile(profile).model
    data = yaml.safe_load(profile.read_text())
    overrides: dict[tuple[str, str], str] = {}
    if original["tls"]["enabled"]:
        cert, key = make_certificate(workdir / "tls", original["site"]["server_names"])
        overrides[("tls", "certificate")] = str(cert)
        overrides[("tls", "certificate_key")] = str(key)
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    overrides[("proxy", "pid_file")] = str(workdir / "logs" / "nginx.pid")
    overrides[("proxy", "log_dir")] = str(workdir / "logs")
    overrides[("server", "venv")] = sys.prefix
    if original["load_balancer"]["kind"] == "haproxy":
        # HAProxy reads one PEM with chain and key; the test certificate doubles as the hosts' CA.
        cert, key = make_certificate(workdir / "balancer", original["site"]["server_names"])
        pem = workdir / "balancer" / "haproxy.pem"
        pem.write_text(cert.read_text() + key.read_text())
        overrides[("load_balancer", "certificate")] = str(pem)
        overrides[("load_balancer", "backend_ca_file")] = str(cert)
        overrides[("load_balancer", "admin_socket")] = str(workdir / "balancer" / "admin.sock")
    replacements = {}
    for (section, field), host_value in overrides.items():
        data.setdefault(section, {})[field] = host_value
        replacements[host_value] = original[section][field]
    host_profile = workdir / profile.name
    host_profile.write_text(yaml.safe_dump(data))
    files = render_files(load_profile(host_profile).model)
    # Longest first, so a path is restored before any path it contains.
    ordered = dict(sorted(replacements.items(), key=lambda item: -len(item[0])))
    return HostRender(files, ordered)
