"""Every render target in one place: which templates it renders and where each file goes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Output:
    template: str  # path under templates/
    filename: str  # path under the target's bundle folder; {name} is the profile name


@dataclass(frozen=True)
class Target:
    name: str
    summary: str
    outputs: tuple[Output, ...]


TARGETS: dict[str, Target] = {
    target.name: target
    for target in (
        Target(
            "nginx",
            "nginx reverse proxy: TLS, HTTP->HTTPS redirect, WebSocket upgrade, sticky upstream",
            (
                Output("nginx/nginx.conf.j2", "nginx.conf"),
                Output("nginx/site.conf.j2", "{name}.conf"),
            ),
        ),
        Target(
            "systemd",
            "systemd template unit per instance port, environment file and a target grouping them",
            (
                Output("systemd/instance@.service.j2", "{name}@.service"),
                Output("systemd/instances.target.j2", "{name}.target"),
                Output("systemd/server.env.j2", "{name}.env"),
            ),
        ),
    )
}
