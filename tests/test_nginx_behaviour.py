"""What the rendered nginx site does, seen from both ends: a real nginx with the rendered files in front of
an instance running tests/echo_app.py, which answers what reached it. Each assertion is a behaviour a
golden-file diff would only show as text: the exact redirect, headers that reach the app, headers that
reach the browser, unbuffered delivery, closed routes."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from server_stack import Stack, Supervisor, free_ports, start_instances, start_nginx, write_profile

from conftest import REPO, require_tool
from swarmdeploy.deploy.certificates import PrivateCA
from swarmdeploy.verify.engineio import http_request
from swarmdeploy.verify.target import Target

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("nginx-behaviour")]

MAX_BODY = 4096


@dataclass
class Site:
    stack: Stack
    https_port: int
    http_port: int
    target: Target

    def get(self, path: str, headers: dict[str, str] | None = None, scheme: str = "https"):
        port = self.https_port if scheme == "https" else self.http_port
        return http_request(self.target, "GET", f"{scheme}://localhost:{port}{path}", headers)

    def echoed(self, path: str = "/echo", headers: dict[str, str] | None = None) -> dict:
        response = self.get(path, headers)
        assert response.status == 200, response.text
        return json.loads(response.text)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    for tool in ("nginx", "gunicorn"):
        require_tool(tool)
    workdir = tmp_path_factory.mktemp("nginx-behaviour")
    authority = PrivateCA(workdir / "ca.pem")
    chain, key = workdir / "fullchain.pem", workdir / "privkey.pem"
    authority.issue(chain, key, ["localhost"])
    profile = write_profile(workdir, server={"app": "echo_app:create_app"}, site={"https_port": free_ports(1)},
                            socketio={"max_http_buffer_size": MAX_BODY},
                            tls={"profile": "intermediate", "certificate": str(chain), "certificate_key": str(key)})
    supervisor = Supervisor(workdir)
    try:
        stack = start_instances(supervisor, profile, {"PYTHONPATH": str(REPO / "tests")})
        start_nginx(supervisor, workdir / "nginx", stack.files, stack.model["name"])
        site = stack.model["site"]
        target = Target(url=f"https://localhost:{site['https_port']}", ca_file=authority.ca_file)
        yield Site(stack, site["https_port"], site["http_port"], target)
    finally:
        supervisor.stop_all()


def test_http_is_redirected_with_exactly_308_to_the_same_path(site: Site) -> None:
    response = site.get("/dashboard?room=ops", scheme="http")
    assert response.status == 308  # 301 would let clients turn a POST into a GET
    assert response.headers["Location"] == f"https://localhost:{site.https_port}/dashboard?room=ops"


def test_the_app_learns_the_public_host_scheme_and_client(site: Site) -> None:
    """Flask-SocketIO's same-origin check compares Origin with X-Forwarded-Proto://X-Forwarded-Host: the
    port must survive, or every page on a non-default port is 'not an accepted origin'."""
    echoed = site.echoed()
    assert echoed["HTTP_X_FORWARDED_HOST"] == f"localhost:{site.https_port}"
    assert echoed["HTTP_X_FORWARDED_PROTO"] == "https"
    assert echoed["HTTP_X_FORWARDED_FOR"] == "127.0.0.1" and echoed["HTTP_X_REAL_IP"] == "127.0.0.1"
    assert echoed["HTTP_HOST"] == "localhost"


def test_upgrade_headers_reach_the_app_only_for_an_upgrade(site: Site) -> None:
    upgrade = site.echoed("/socket.io/", {"Upgrade": "websocket", "Connection": "Upgrade"})
    assert (upgrade["HTTP_UPGRADE"], upgrade["HTTP_CONNECTION"]) == ("websocket", "upgrade")
    plain = site.echoed("/socket.io/")
    assert plain["HTTP_UPGRADE"] is None and plain["HTTP_CONNECTION"] == "close"


def test_events_reach_the_client_as_they_are_sent(site: Site) -> None:
    """proxy_buffering off in the Socket.IO location: a chunk arrives while the app is still writing."""
    import http.client

    connection = http.client.HTTPSConnection("localhost", site.https_port, timeout=5,
                                             context=ssl.create_default_context(cafile=str(site.target.ca_file)))
    started = time.monotonic()
    connection.request("GET", "/socket.io/stream")
    response = connection.getresponse()
    first = response.readline()
    first_at = time.monotonic() - started
    response.read()
    total = time.monotonic() - started
    connection.close()
    assert first.startswith(b"chunk 0")
    assert first_at < total - 0.4, f"the first chunk came at {first_at:.2f} s of {total:.2f} s: buffered"


@pytest.mark.parametrize("path", ["/", "/healthz", "/socket.io/", "/metrics", "/no-such-page"])
def test_every_https_answer_carries_hsts(site: Site, path: str) -> None:
    response = site.get(path)
    assert response.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains", path


def test_metrics_stay_closed_to_the_public(site: Site) -> None:
    response = site.get("/metrics")
    assert response.status == 404 and "HTTP_HOST" not in response.text  # nginx answered, not the app


def test_bodies_above_the_servers_buffer_are_refused_by_nginx(site: Site) -> None:
    url = f"https://localhost:{site.https_port}/socket.io/"
    assert http_request(site.target, "POST", url, body=b"x" * (MAX_BODY + 1)).status == 413
    assert http_request(site.target, "POST", url, body=b"x" * MAX_BODY).status == 200
