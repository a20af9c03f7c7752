"""verify as a library call: check the arguments, build the target from a profile, a URL or the last
deployment, run it. A bad argument is a UsageError before any check runs, never a crashed check."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
from pathlib import Path
from urllib.parse import urlsplit

from swarmdeploy.deploy.layout import Layout
from swarmdeploy.errors import UsageError
from swarmdeploy.model import Model
from swarmdeploy.profile import load_profile
from swarmdeploy.verify.record import last_deployment, target_from_record
from swarmdeploy.verify.registry import CHECKS
from swarmdeploy.verify.result import CheckResult
from swarmdeploy.verify.runner import run_checks
from swarmdeploy.verify.target import Target

MAX_SOAK = 86400.0  # seconds: a day outlasts every idle timeout on the path (an ALB's is at most 4000 s)
_DNS_NAME = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9_-]{1,63}(?<!-))*\.?")


def build_target(profile: Path | None = None, url: str | None = None, origin: str | None = None,
                 ca_file: Path | None = None, host: str | None = None, soak: float = 0.0, browser: bool = False,
                 root: Path = Path("/"), address: str | None = None) -> Target:
    """What to verify. A profile or --url verifies the public URL (through the balancer when one is in
    front); neither verifies the last deployment recorded under `root` on this host, as the deploy did."""
    _check_arguments(url, origin, host, address, soak)
    if profile is None and url is None:
        recorded = target_from_record(last_deployment(Layout(root, "").state_root))
        overrides = {"origin": origin, "ca_file": ca_file, "host": host, "address": address}
        return dataclasses.replace(recorded, soak=soak, browser=browser,
                                   **{key: given for key, given in overrides.items() if given})
    model = load_profile(profile).model if profile else None
    if url and model:
        _check_scheme_matches(url, model)
    url = url or (model["verify"]["url"] if model else None)
    if not url:
        raise UsageError("nothing to verify: pass a PROFILE, --url, or deploy first")
    profile_ca = model["verify"]["ca_file"] if model else None
    return Target(
        url=url.rstrip("/"),
        origin=origin or (model["verify"]["origin"] if model else None),
        ca_file=ca_file or (Path(profile_ca) if profile_ca else None),
        model=model,
        host=host,
        soak=soak,
        browser=browser,
        address=address,
        through_balancer=bool(model and model["load_balancer"]["enabled"]),
        http_port=model["verify"]["http_port"] if model else None,
    )


def _check_arguments(url: str | None, origin: str | None, host: str | None, address: str | None,
                     soak: float) -> None:
    problems = {
        "--url": url and _web_address_problem(url),
        "--origin": origin and (_web_address_problem(origin) or _origin_problem(origin)),
        "--host": host and _host_problem(host),
        "--address": address and _address_problem(address),
        "--soak": _soak_problem(soak),
    }
    for option, problem in problems.items():
        if problem:
            raise UsageError(f"{option}: {problem}")


def _web_address_problem(value: str) -> str | None:
    """Why value is not an http(s) URL verify can connect to; None when it is."""
    if not value.isprintable() or any(c.isspace() for c in value):
        return f"{value!r} has spaces or control characters"
    if "://" not in value:
        return f"{value} has no scheme: did you mean https://{value}?"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as error:  # a port past 65535 or not a number, an unclosed [IPv6 address
        return f"{value}: {error}"
    if parts.scheme not in ("https", "http"):
        return f"{value}: verify speaks https and http, not {parts.scheme}"
    if not parts.hostname or not (_DNS_NAME.fullmatch(parts.hostname) or _is_ip(parts.hostname)):
        return f"{value} names no host (a DNS name, an IPv4 address or an [IPv6] address)"
    if port == 0:
        return f"{value}: port 0 is not a port a server listens on"
    return None


def _origin_problem(origin: str) -> str | None:
    parts = urlsplit(origin)
    if parts.path or parts.query or parts.fragment or parts.username:
        return f"{origin} is not an origin, which is scheme://host[:port] as a browser sends it, with no path"
    return None


def _check_scheme_matches(url: str, model: Model) -> None:
    """Another scheme than the profile's verify.url tests another listener (port 80 redirects to https://)."""
    expected = urlsplit(model["verify"]["url"]).scheme
    if urlsplit(url).scheme != expected:
        raise UsageError(f"--url: {url} is not {expected}://, which the profile serves (verify.url "
                         f"{model['verify']['url']}); pass a {expected}:// URL")


def _host_problem(spec: str) -> str | None:
    from testinfra.backend import BACKENDS  # the verify extra; every host spec testinfra knows

    scheme, separator, rest = spec.partition("://")
    if not separator or scheme not in BACKENDS:
        return (f"{spec} is not a testinfra host: local:// or ssh://user@host (or {', '.join(BACKENDS)} "
                "followed by ://)")
    if scheme != "local" and not rest.partition("?")[0]:
        return f"{spec} names no host: {scheme}://[user@]host"
    return None


def _address_problem(address: str) -> str | None:
    return None if _is_ip(address) else f"{address} is not an IP address (such as 203.0.113.7 or 2001:db8::7)"


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _soak_problem(soak: float) -> str | None:
    if not (math.isfinite(soak) and 0 <= soak <= MAX_SOAK):
        return f"{soak} is not a number of seconds from 0 to {MAX_SOAK:.0f}"
    return None


def verify(target: Target, only: list[str] | None = None) -> list[CheckResult]:
    unknown = [name for name in only or [] if name not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check {', '.join(unknown)}; choose from {', '.join(CHECKS)}")
    return run_checks(target, only)
