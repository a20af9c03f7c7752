"""Every render target in one place: which templates it renders, where each file goes, and which
profiles it applies to (a balancer's target only to profiles with that balancer in front, monitoring only to
the bundled server, whose metrics its rules read)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BUNDLED_SERVER = "swarmdeploy.server:create_app"


@dataclass(frozen=True)
class Output:
    template: str  # path under templates/
    filename: str  # path under the target's bundle folder; {name} is the profile name


def _always(_model: dict[str, Any]) -> bool:
    return True


def _balancer_is(kind: str) -> Callable[[dict[str, Any]], bool]:
    def applies(model: dict[str, Any]) -> bool:
        return model["load_balancer"]["kind"] == kind

    return applies


def _bundled_server(model: dict[str, Any]) -> bool:
    return model["server"]["app"] == BUNDLED_SERVER


@dataclass(frozen=True)
class Target:
    name: str
    summary: str
    outputs: tuple[Output, ...]
    applies_to: Callable[[dict[str, Any]], bool] = _always
    requirement: str = ""  # what a profile needs for this target, said when it does not apply


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
        Target(
            "haproxy",
            "HAProxy in front of the hosts: TLS, redirect, cookie stickiness, tunnel timeouts, /healthz checks",
            (Output("haproxy/haproxy.cfg.j2", "haproxy.cfg"),),
            _balancer_is("haproxy"),
            "load_balancer.kind: haproxy",
        ),
        Target(
            "alb",
            "AWS Application Load Balancer: a Terraform module and an equivalent CloudFormation template",
            (
                Output("alb/versions.tf.j2", "terraform/versions.tf"),
                Output("alb/variables.tf.j2", "terraform/variables.tf"),
                Output("alb/main.tf.j2", "terraform/main.tf"),
                Output("alb/outputs.tf.j2", "terraform/outputs.tf"),
                Output("alb/cloudformation.yaml.j2", "cloudformation.yaml"),
            ),
            _balancer_is("alb"),
            "load_balancer.kind: alb",
        ),
        Target(
            "monitoring",
            "Prometheus scrape configuration and alerting rules for every instance, and a Grafana dashboard",
            (
                Output("monitoring/prometheus.yml.j2", "prometheus.yml"),
                Output("monitoring/rules.yml.j2", "{name}.rules.yml"),
                Output("monitoring/grafana-dashboard.json.j2", "grafana-dashboard.json"),
            ),
            _bundled_server,
            f"server.app: {BUNDLED_SERVER} (the server whose /metrics the rules read)",
        ),
    )
}


def applicable_targets(model: dict[str, Any]) -> list[str]:
    return [name for name, target in TARGETS.items() if target.applies_to(model)]
