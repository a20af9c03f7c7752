"""Secrets out of the archive, by construction: every text a part writes passes through a Scrubber, which
knows the deployment's secret values (the secrets file's, secret-named environment variables', the message
queue's password, private key material) and replaces them, redacts values under secret-looking names and
passwords in URLs, and drops private key blocks. The archive's bytes are searched for every known value
before it is written (archive.py): a miss there is a bug, and nothing is written."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

REDACTED = "***"
MIN_SEARCHABLE = 6  # characters: a shorter value would match ordinary text; such secrets are redacted by name only
_SECRET_NAME = re.compile(r"token|passw|secret|credential|private|api[_-]?key|access[_-]?key", re.IGNORECASE)
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^\s/@:]*:)(?P<password>[^\s/@]+)(?=@)", re.IGNORECASE)
_KEY_BLOCK = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL)
KEY_MARKER = b"PRIVATE KEY-----"  # no private key block, whole or cut, may reach the archive


def secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def names_a_variable(name: str, value: Any) -> bool:
    """server.auth_token_env and the like hold the *name* of the variable with the token, not the token."""
    return name.lower().endswith("_env") and isinstance(value, str) and bool(_VARIABLE_NAME.fullmatch(value))


def key_lines(pem: str) -> list[str]:
    """The base64 lines of every private key block in a PEM text: what must never be copied."""
    return [line.strip() for block in _KEY_BLOCK.finditer(pem) for line in block.group(0).splitlines()[1:-1]
            if line.strip() and ":" not in line]


@dataclass(frozen=True)
class Secret:
    value: str
    source: str  # where it came from, to name it without showing it: "the secrets file's API_TOKEN"


@dataclass
class Scrubber:
    secrets: list[Secret] = field(default_factory=list)

    def learn(self, value: str | None, source: str) -> None:
        if value and value not in {s.value for s in self.secrets}:
            self.secrets.append(Secret(value, source))

    def learn_environment(self, environment: Mapping[str, str], source: str) -> None:
        for name, value in environment.items():
            if secret_name(name) and not names_a_variable(name, value):
                self.learn(value, f"{source} {name}")

    def learn_urls(self, data: Any, source: str) -> None:
        """The password of every URL in a model (server.message_queue)."""
        for text in _strings(data):
            for match in _URL_PASSWORD.finditer(text):
                for spelling in {match.group("password"), unquote(match.group("password"))}:
                    self.learn(spelling, f"the password in {source}'s URL")

    def learn_keys(self, pem: str, source: str) -> None:
        for line in key_lines(pem):
            self.learn(line, f"private key {source}")

    @property
    def searchable(self) -> list[Secret]:
        return [s for s in self.secrets if len(s.value) >= MIN_SEARCHABLE]

    def text(self, text: str) -> str:
        text = _KEY_BLOCK.sub("[private key removed]", text)
        text = _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)
        for secret in sorted(self.searchable, key=lambda s: -len(s.value)):  # longest first: no half-replaced value
            text = text.replace(secret.value, REDACTED)
        return text

    def environment(self, environment: Mapping[str, str]) -> dict[str, str]:
        return {name: self._value(name, value) for name, value in environment.items()}

    def mapping(self, data: Any) -> Any:
        """A copy of a model or record: values under secret-looking names redacted, strings scrubbed."""
        if isinstance(data, Mapping):
            return {key: self._value(str(key), value) for key, value in data.items()}
        if isinstance(data, list | tuple):
            return [self.mapping(item) for item in data]
        return self.text(data) if isinstance(data, str) else data

    def _value(self, name: str, value: Any) -> Any:
        if secret_name(name) and value not in (None, "") and not names_a_variable(name, value):
            return REDACTED if not isinstance(value, Mapping | list) else self._redact_all(value)
        return self.mapping(value)

    def _redact_all(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {key: self._redact_all(value) for key, value in data.items()}
        return [self._redact_all(item) for item in data] if isinstance(data, list) else REDACTED


def _strings(data: Any) -> Iterable[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, Mapping):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list | tuple):
        for item in data:
            yield from _strings(item)
