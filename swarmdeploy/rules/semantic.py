"""Rules on what a value means, where its characters alone pass the schema: addresses that are no
address, ports past 65535 inside URLs, paths that nginx or the kernel read as another path, and a
history that cannot fit in memory. Each field is checked as the program that receives it reads it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from swarmdeploy.rules import addresses
from swarmdeploy.rules.core import ProfileData, Violation, rule, value
from swarmdeploy.schema import profile_schema

NAME_MAX = 255  # bytes in one path component (Linux); PATH_MAX (4096) is beyond the schema's 1024 characters
HISTORY_MEMORY_LIMIT = 4 * 1024**3  # bytes a full event history may take: more than a usual host has to spare


def _fields_of(*definitions: str) -> tuple[str, ...]:
    """The dotted fields whose value is one of these $defs forms (alone or or-null): every path field,
    as the schema declares them, so a new one is checked without being listed here."""
    refs = {f"#/$defs/{definition}" for definition in definitions}

    def walk(node: dict[str, Any], path: str) -> Iterator[str]:
        if node.get("$ref") in refs or any(branch.get("$ref") in refs for branch in node.get("anyOf", [])):
            yield path
        for key, child in node.get("properties", {}).items():
            yield from walk(child, f"{path}.{key}".lstrip("."))

    return tuple(walk(profile_schema(), ""))


FILE_PATHS = _fields_of("absolute_path")
PATHS = _fields_of("absolute_path", "url_path")
# Where a socket listens, and whether the address is written in brackets there ([::1]:443) or bare.
LISTEN_FIELDS = {"server.bind": False, "site.listen_address": True, "load_balancer.listen_address": True}
URL_FIELDS = ("server.message_queue", "verify.url")


@rule("address.listen", tuple(LISTEN_FIELDS), replaces=("schema.pattern",))
def _listen_addresses(data: ProfileData) -> Iterator[Violation]:
    for field, bracketed in LISTEN_FIELDS.items():
        text = value(data, field)
        if not isinstance(text, str) or (field == "server.bind" and text == "localhost"):
            continue
        address = addresses.ip_address(text)
        problem = addresses.NOT_AN_ADDRESS if address is None else addresses.listen_problem(address)
        if problem:
            example = "127.0.0.1 or [::1]" if bracketed else "127.0.0.1 or ::1"
            yield Violation(field, f"{text} {problem}; nothing can listen there, so the service fails to start",
                            f"use an address of this host, such as {example}")


@rule("address.cidr", ("proxy.real_ip_from",), replaces=("schema.pattern",))
def _trusted_blocks(data: ProfileData) -> Iterator[Violation]:
    blocks = value(data, "proxy.real_ip_from")
    for index, block in enumerate(blocks if isinstance(blocks, list) else []):
        problem = addresses.cidr_problem(block) if isinstance(block, str) else None
        if problem:
            message, fix = problem
            yield Violation(f"proxy.real_ip_from.{index}", f"{block} {message}", fix)


def _authority_problem(url: str) -> str | None:
    """Why the host or port of url names nowhere: a port past 65535 or 0, a host that is no address or name."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed [ of an IPv6 host
        return "is not a URL of the form scheme://host:port"
    try:
        port = parts.port
    except ValueError:  # past 65535
        return "has a port outside 1-65535"
    if port == 0:
        return "has port 0, which no server listens on"
    problem = addresses.host_problem(parts.hostname) if parts.hostname else None
    return f"has a host that {problem}" if problem else None


@rule("url.host-port", URL_FIELDS, replaces=("schema.pattern",))
def _urls_name_a_server(data: ProfileData) -> Iterator[Violation]:
    for field in URL_FIELDS:
        url = value(data, field)
        problem = _authority_problem(url) if isinstance(url, str) and "://" in url else None
        if problem:
            yield Violation(field, f"{url} {problem}: connections to it fail at run time",
                            "give a host name or IP address and a port from 1 to 65535, such as "
                            + ("redis://127.0.0.1:6379/0" if field == "server.message_queue" else
                               "https://dashboard.example.com:8443"))


def _dot_segments(path: str) -> str | None:
    """The path with . and .. resolved, when it has such a segment (nginx and the kernel resolve them)."""
    parts = path.split("/")[1:]
    if "." not in parts and ".." not in parts:
        return None
    resolved: list[str] = []
    for part in parts:
        if part == "..":
            resolved = resolved[:-1]
        elif part != ".":
            resolved.append(part)
    return "/" + "/".join(resolved)


@rule("path.normalised", PATHS)
def _paths_are_normalised(data: ProfileData) -> Iterator[Violation]:
    for field in PATHS:
        path = value(data, field)
        resolved = _dot_segments(path) if isinstance(path, str) else None
        if resolved is not None:
            yield Violation(field, f"{path} has a . or .. segment, so it names {resolved}: nginx matches "
                                   "requests and systemd reads files by the resolved path",
                            f"write the path without . and .. segments, such as {resolved}"
                            if resolved != "/" else "write the path without . and .. segments")


@rule("path.name-max", FILE_PATHS)
def _path_names_fit(data: ProfileData) -> Iterator[Violation]:
    for field in FILE_PATHS:
        path = value(data, field)
        longest = max((len(part.encode()) for part in path.split("/")), default=0) if isinstance(path, str) else 0
        if longest > NAME_MAX:
            yield Violation(field, f"a name in this path has {longest} bytes; Linux allows {NAME_MAX} "
                                   "(opening it fails with 'File name too long')",
                            f"shorten each name between slashes to at most {NAME_MAX} characters")


@rule("path.nginx-pid-file", ("proxy.pid_file", "proxy.log_dir"))
def _pid_file_apart_from_logs(data: ProfileData) -> Iterator[Violation]:
    pid_file, log_dir = value(data, "proxy.pid_file"), value(data, "proxy.log_dir")
    if not isinstance(pid_file, str) or not isinstance(log_dir, str):
        return
    collisions = {log_dir: "the log directory", f"{log_dir}/error.log": "nginx's error log",
                  f"{log_dir}/access.log": "nginx's access log"}
    where = collisions.get(pid_file) or ("a directory holding the logs" if log_dir.startswith(f"{pid_file}/") else None)
    if where:
        yield Violation("proxy.pid_file", f"{pid_file} is {where} (proxy.log_dir {log_dir}): nginx cannot write "
                                          "its pid there and does not start",
                        "give the pid file a path of its own, such as /run/nginx.pid")


@rule("history.memory", ("socketio.history_limit", "socketio.max_http_buffer_size"))
def _history_fits_in_memory(data: ProfileData) -> Iterator[Violation]:
    limit, size = value(data, "socketio.history_limit"), value(data, "socketio.max_http_buffer_size")
    if isinstance(limit, int) and isinstance(size, int) and limit * size > HISTORY_MEMORY_LIMIT:
        yield Violation("socketio.history_limit",
                        f"a full history keeps {limit} events of up to {size} bytes each: "
                        f"{limit * size / 1024**3:,.0f} GiB in the server's memory (or Redis's), which kills it",
                        f"lower history_limit or max_http_buffer_size so their product stays under "
                        f"{HISTORY_MEMORY_LIMIT // 1024**3} GiB (the defaults: 1000 events of 1000000 bytes)")
