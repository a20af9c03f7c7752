"""Secrets out of what swarmdeploy prints: a URL's password never reaches a report or a log."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """redis://:s3cret@10.0.0.5:6379/0 -> redis://:***@10.0.0.5:6379/0"""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
