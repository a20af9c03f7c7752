"""Where a deployment keeps secrets, so the Scrubber knows every value before any part writes a line: the
secrets file (every value in it), secret-named variables of this environment and of each instance's, passwords
in the model's URLs, and the private keys of the TLS files and beside them. Read here, never copied."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from swarmdeploy.diagnose.scrub import Scrubber
from swarmdeploy.server.config import parse_env_file

MOST_KEY_FILES = 200  # files searched for private keys in the config folder
LARGEST_KEY_FILE = 1024 * 1024  # bytes: a PEM file is a few kilobytes


def process_environment(pid: int) -> dict[str, str]:
    """/proc/PID/environ, or nothing when it is gone or not ours to read."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (entry.decode(errors="replace").partition("=") for entry in raw.split(b"\0") if b"=" in entry)
    return {name: value for name, _, value in pairs}


def scrubber_for(models: Iterable[dict[str, Any]], instance_pids: dict[str, int]) -> Scrubber:
    scrub = Scrubber()
    scrub.learn_environment(os.environ, "this environment's")
    for service, pid in instance_pids.items():
        scrub.learn_environment(process_environment(pid), f"{service}'s environment's")
    for model in models:
        scrub.learn_urls(model, "the profile")
        secrets_file = Path(model["server"]["secrets_file"])
        for name, value in _read_env(secrets_file).items():
            scrub.learn(value, f"the secrets file's {name}")
        for path in _key_files(model):
            scrub.learn_keys(_read_text(path), str(path))
    return scrub


def _key_files(model: dict[str, Any]) -> list[Path]:
    """The TLS key and the balancer's PEM (certificate and key in one), and every .key and .pem under the
    config folder (the self-signed demo keeps its CA's there too)."""
    named = [model["tls"]["certificate_key"], model["load_balancer"]["certificate"]]
    found = [Path(path) for path in named if path]
    config = Path(model["server"]["config_dir"])
    if config.is_dir():
        candidates = (p for p in config.rglob("*") if p.suffix in (".key", ".pem") and p.is_file())
        found += [path for _, path in zip(range(MOST_KEY_FILES), candidates, strict=False)]
    return found


def _read_env(path: Path) -> dict[str, str]:
    return parse_env_file(_read_text(path))


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return handle.read(LARGEST_KEY_FILE).decode(errors="replace")
    except OSError:
        return ""
