"""Every rendered HAProxy config is the golden one and passes Debian 12's real `haproxy -c`; what the
balancer must do for Socket.IO is in the config, checked line by line where a golden diff would hide it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from conftest import EXAMPLE_PROFILES, require_tool
from host_render import render_for_host
from test_golden import golden_path

from swarmdeploy.profile import load_profile

pytestmark = pytest.mark.integration

HAPROXY_PROFILES = [p for p in EXAMPLE_PROFILES if load_profile(p).model["load_balancer"]["kind"] == "haproxy"]
CONFIG = "haproxy/haproxy.cfg"


def test_an_example_profile_renders_haproxy() -> None:
    assert HAPROXY_PROFILES, "no example profile has load_balancer.kind: haproxy"


@pytest.fixture(params=HAPROXY_PROFILES, ids=lambda p: p.stem)
def rendered(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str, str]:
    """(profile, config as validated here with stand-in files, config as the profile renders it)."""
    host = render_for_host(request.param, tmp_path)
    return request.param, host.files[CONFIG], host.restore_paths(host.files[CONFIG])


def test_validated_config_is_the_golden_config(rendered: tuple[Path, str, str]) -> None:
    profile, _, original = rendered
    assert original == golden_path(profile, CONFIG).read_text()


def test_haproxy_accepts_the_config(rendered: tuple[Path, str, str], tmp_path: Path) -> None:
    _, config, _ = rendered
    path = tmp_path / "haproxy.cfg"
    path.write_text(config)
    result = subprocess.run([require_tool("haproxy"), "-c", "-f", str(path)], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Configuration file is valid" in result.stdout + result.stderr


def test_haproxy_rejects_a_broken_config(rendered: tuple[Path, str, str], tmp_path: Path) -> None:
    """The validator is real: a misspelt timeout keyword fails the same check."""
    _, config, _ = rendered
    path = tmp_path / "haproxy.cfg"
    path.write_text(config.replace("timeout tunnel", "timeout tunel", 1))
    result = subprocess.run([require_tool("haproxy"), "-c", "-f", str(path)], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode != 0 and "tunel" in result.stdout + result.stderr


def test_config_carries_what_socketio_needs(rendered: tuple[Path, str, str]) -> None:
    profile, _, config = rendered
    balancer = load_profile(profile).model["load_balancer"]
    ping_total = load_profile(profile).model["socketio"]["ping_total"]
    for keyword in ("tunnel", "client", "server"):
        seconds = int(re.search(rf"^\s*timeout {keyword} (\d+)s$", config, re.M).group(1))
        assert seconds == balancer[f"timeout_{keyword}"] and seconds > ping_total, keyword
    cookie = re.search(r"^\s*cookie (\S+) (.*)$", config, re.M)
    assert cookie and cookie.group(1) == balancer["cookie_name"]
    assert cookie.group(2).split()[:5] == ["insert", "indirect", "nocache", "httponly", "secure"]
    servers = re.findall(r"^\s*server (\S+) (\S+) cookie (\S+)$", config, re.M)
    assert [(name, value) for name, _, value in servers] == [(h["name"], h["name"]) for h in balancer["hosts"]]
    assert all(address.endswith(f":{balancer['backend_port']}") for _, address, _ in servers)
    # Health checks on the dedicated route, never the Engine.IO handshake (each probe would open a session).
    assert re.search(rf"^\s*http-check send meth GET uri {re.escape(balancer['health_check_path'])} ", config, re.M)
    assert "/socket.io" not in config
    suffix = load_profile(profile).model["site"]["public_authority_suffix"]
    assert re.search(rf"^\s*http-request redirect location https://%\[req.hdr\(host\),field\(1,:\)\]{suffix}"
                     r"%\[capture.req.uri\] code 308 unless \{ ssl_fc \}$", config, re.M)
    assert re.search(r"^\s*bind 127\.0\.0\.1:\d+$", config, re.M), "the stats frontend is not on loopback only"
    assert re.search(r"ssl-min-ver TLSv1\.2$", config, re.M)
    assert re.search(r"^\s*default-server .* ssl verify required ca-file \S+ verifyhost ", config, re.M)
