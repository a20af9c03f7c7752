"""/healthz through the rendered nginx (what the public and a balancer see) and on an instance's
loopback port (what deploy, verify and operators read); /favicon.ico through nginx."""

from __future__ import annotations

import urllib.request

import pytest
from server_stack import http_json, http_text, start_instances, start_nginx, start_redis, write_profile

from conftest import require_tool

pytestmark = pytest.mark.integration

LOOPBACK_ONLY = {"instance", "name", "pid", "version", "async_mode", "clients", "uptime"}


def test_healthz_is_status_only_through_nginx_and_detailed_on_loopback(supervisor, tmp_path):
    for tool in ("nginx", "redis-server", "gunicorn"):
        require_tool(tool)
    redis_url = start_redis(supervisor)
    stack = start_instances(supervisor, write_profile(tmp_path, message_queue=redis_url))
    start_nginx(supervisor, tmp_path / "nginx", stack.files, stack.model["name"])
    site = f"http://127.0.0.1:{stack.model['site']['http_port']}"
    (instance,) = stack.instances

    public = http_json(f"{site}/healthz", headers={"Host": "localhost"})
    assert public == {"status": "ok", "queue": {"reachable": True}}
    local = instance.health()
    assert LOOPBACK_ONLY <= set(local) and local["status"] == "ok"
    # Subscribed before any client connects (queue.py listen_now).
    assert local["queue"] == {"url": redis_url, "reachable": True, "listener": "subscribed", "error": None}

    # The page names an empty icon; a browser asking anyway gets no 404.
    assert '<link rel="icon" href="data:,">' in http_text(f"{site}/", headers={"Host": "localhost"})
    with urllib.request.urlopen(urllib.request.Request(f"{site}/favicon.ico", headers={"Host": "localhost"})) as icon:
        assert icon.status == 204 and "max-age=" in icon.headers["Cache-Control"]
