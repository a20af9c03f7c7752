"""Waiting for services: an instance's /healthz, a port that accepts connections."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from typing import Any

START_TIMEOUT = 30.0


def instance_health(host: str, port: int, timeout: float = 2.0) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=timeout) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host.strip("[]"), port), timeout=1):
            return True
    except OSError:
        return False


def wait_for(check, timeout: float = START_TIMEOUT, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False
