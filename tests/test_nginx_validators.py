"""Every rendered nginx config passes real `nginx -t` and gixy-ng with zero findings."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import EXAMPLE_PROFILES, REPO, require_file, require_tool
from host_render import HostRender, render_for_host
from test_golden import golden_path

from swarmdeploy.profile import load_profile

pytestmark = pytest.mark.integration

DEBIAN_NGINX_CONF = Path("/etc/nginx/nginx.conf")


def install_nginx_files(rendered: HostRender, prefix: Path) -> Path:
    for relative, text in rendered.files.items():
        if relative.startswith("nginx/"):
            (prefix / Path(relative).name).write_text(text)
    return prefix / "nginx.conf"


def nginx_test(prefix: Path, conf: Path) -> subprocess.CompletedProcess[str]:
    nginx = require_tool("nginx")
    return subprocess.run([nginx, "-p", f"{prefix}/", "-c", str(conf), "-e", str(prefix / "logs" / "error.log"), "-t"],
                          capture_output=True, text=True, timeout=30)


@pytest.fixture(params=EXAMPLE_PROFILES, ids=lambda p: p.stem)
def rendered(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, HostRender]:
    return request.param, render_for_host(request.param, tmp_path)


def test_validated_config_is_the_golden_config(rendered: tuple[Path, HostRender]) -> None:
    profile, host = rendered
    for relative, text in host.files.items():
        assert host.restore_paths(text) == golden_path(profile, relative).read_text(), relative


def test_owned_nginx_conf_passes_nginx_t(rendered: tuple[Path, HostRender], tmp_path: Path) -> None:
    _, host = rendered
    conf = install_nginx_files(host, tmp_path)
    result = nginx_test(tmp_path, conf)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_site_file_included_from_debian_nginx_conf_passes_nginx_t(rendered: tuple[Path, HostRender],
                                                                   tmp_path: Path) -> None:
    """Where swarmdeploy does not own nginx, the site file sits beside Debian's own settings."""
    _, host = rendered
    install_nginx_files(host, tmp_path)
    site = next(tmp_path / Path(r).name for r in host.files if r.startswith("nginx/") and not r.endswith("/nginx.conf"))
    debian = require_file(DEBIAN_NGINX_CONF).read_text()
    debian = debian.replace("include /etc/nginx/sites-enabled/*;", f"include {site};")
    debian = debian.replace("pid /run/nginx.pid;", f"pid {tmp_path / 'logs' / 'nginx.pid'};")
    assert f"include {site};" in debian, "Debian's nginx.conf no longer includes sites-enabled"
    conf = tmp_path / "debian-nginx.conf"
    conf.write_text(debian)
    result = nginx_test(tmp_path, conf)
    assert result.returncode == 0, result.stderr


def gixy_skips(profile: Path) -> list[str]:
    """The deliberate allowances, each commented in the template and listed in the README."""
    tls = load_profile(profile).model["tls"]
    return ["hsts_header"] if tls["enabled"] and not tls["hsts"] else []


def test_gixy_finds_nothing(rendered: tuple[Path, HostRender], tmp_path: Path) -> None:
    profile, host = rendered
    conf = install_nginx_files(host, tmp_path)
    skips = gixy_skips(profile)
    command = [require_tool("gixy"), "-f", "json", *(["--skips", ",".join(skips)] if skips else []), str(conf)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    findings = json.loads(result.stdout or "[]")
    summary = [f"{f['plugin']} line {f['line']}: {f['summary']}" for f in findings]
    assert findings == [] and result.returncode == 0, "\n".join(summary) or result.stderr


def test_gixy_would_catch_a_dropped_hsts_header(tmp_path: Path) -> None:
    """The gixy run is a real check: a location that adds a header loses HSTS, and gixy says so."""
    host = render_for_host(next(p for p in EXAMPLE_PROFILES if p.stem == "prod"), tmp_path)
    conf = install_nginx_files(host, tmp_path)
    site = tmp_path / "swarmbot.conf"
    site.write_text(site.read_text().replace("access_log off;", 'access_log off;\n        add_header X-Probe "1";'))
    result = subprocess.run([require_tool("gixy"), "-f", "json", str(conf)], capture_output=True, text=True, timeout=60)
    assert "add_header_redefinition" in {f["plugin"] for f in json.loads(result.stdout)}


def test_hosts_reached_over_ipv6_get_an_ipv6_listen_that_nginx_accepts(tmp_path: Path) -> None:
    """A balancer that reaches a host at an IPv6 address finds its nginx on [::] too."""
    profile = REPO / "tests" / "profiles" / "valid" / "haproxy.yaml"  # one host at fd00::12
    host = render_for_host(profile, tmp_path)
    site = next(text for relative, text in host.files.items() if relative.startswith("nginx/")
                and not relative.endswith("/nginx.conf"))
    assert "    listen [::]:443 ssl http2;\n" in site and "    listen [::]:80;\n" in site
    result = nginx_test(tmp_path, install_nginx_files(host, tmp_path))
    assert result.returncode == 0, result.stderr
