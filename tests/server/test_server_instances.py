"""GET /api/instances in-process: what the status page lists, and nothing a visitor must not see.
The live answer with two instances on Redis is read in Chromium by test_server_browser.py."""

from __future__ import annotations

import json
import os
import socket

from test_server_app import BASE

from swarmdeploy.server import create_app

KEYS = {"id", "port", "status", "clients", "queue", "uptime", "age", "silent", "self"}


def test_a_lone_instance_lists_itself_without_pid_host_or_secrets():
    app = create_app({**BASE, "SWARMDEPLOY_PORT": "8123", "SWARMDEPLOY_PUBLISH_TOKEN_ENV": "PUB",
                      "PUB": "publish-secret-91ab"})
    config = app.config["SWARMDEPLOY"]
    answer = app.test_client().get("/api/instances")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert answer.json["complete"] is True
    [instance] = answer.json["instances"]
    assert set(instance) == KEYS
    assert (instance["port"], instance["status"], instance["queue"], instance["self"], instance["silent"]) == \
        (8123, "ok", None, True, False)
    raw = answer.get_data(as_text=True)
    for private in (socket.gethostname(), config.instance_id, "publish-secret-91ab"):
        assert private not in raw, private
    assert os.getpid() not in [value for value in instance.values() if isinstance(value, int)]


def test_with_client_tokens_the_list_needs_one_too():
    app = create_app({**BASE, "SWARMDEPLOY_AUTH_TOKEN_ENV": "CLIENT", "CLIENT": "client-secret-4d2"})
    http = app.test_client()
    refused = http.get("/api/instances")
    assert refused.status_code == 401 and "Bearer" in refused.json["error"]
    assert http.get("/api/instances", headers={"Authorization": "Bearer wrong"}).status_code == 401
    allowed = http.get("/api/instances", headers={"Authorization": "Bearer client-secret-4d2"})
    assert allowed.status_code == 200 and len(allowed.json["instances"]) == 1
    # The page learns where to ask from its settings, and sends the token it was opened with.
    page = http.get("/").get_data(as_text=True)
    settings = json.loads(page.split('<script id="swarm-config" type="application/json">', 1)[1].split("</script>")[0])
    assert settings["instancesUrl"] == "/api/instances" and settings["authRequired"] is True
