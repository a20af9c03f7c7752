"""Resolve a valid profile into the model: every value a template or the server receives.

The model is plain data (the same variables Ansible receives): defaults filled in, and values
derived here once (ports, origins, TLS settings for the nginx version) so no template computes.
"""

from __future__ import annotations

from typing import Any

from swarmdeploy.monitoring import resolve_monitoring

Model = dict[str, Any]

# Mozilla Server Side TLS 6.0 (FACTS.md §3).
MOZILLA_TLS = {
    "intermediate": {
        "protocols": "TLSv1.2 TLSv1.3",
        "ciphers": "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
    },
    "modern": {"protocols": "TLSv1.3", "ciphers": ""},
    "off": {"protocols": "", "ciphers": ""},
}
# Mozilla's mapping of its profiles to ALB listener policies (FACTS.md §2).
ALB_SSL_POLICIES = {
    "intermediate": "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
    "modern": "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",
    "off": "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
}
# TLS 1.3 suites of both profiles, for HAProxy (nginx leaves TLS 1.3 to OpenSSL's defaults, which are these).
TLS13_CIPHERSUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
MIN_TLS_VERSION = {"intermediate": "TLSv1.2", "modern": "TLSv1.3", "off": ""}
ECDH_CURVES = "X25519:prime256v1:secp384r1"
HSTS_HEADER = "max-age=63072000; includeSubDomains"
# Where a balancer forwards from inside a private network (ALB nodes live in the VPC).
PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.1"]
NGINX_HTTP2_DIRECTIVE_SINCE = (1, 25, 1)


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _authority(host: str, port: int, default_port: int) -> str:
    return host if port == default_port else f"{host}:{port}"


def public_endpoint(data: dict[str, Any]) -> tuple[str, int, int]:
    """Scheme, port and that scheme's default port where clients connect: the balancer when one is in front."""
    tls_on = data["tls"]["profile"] != "off"
    ports = data["load_balancer"] if data["load_balancer"]["kind"] != "none" else data["site"]
    return ("https", ports["https_port"], 443) if tls_on else ("http", ports["http_port"], 80)


def primary_server_name(server_names: list[str]) -> str:
    """The name verify, the balancer's SNI and its health checks use: the first one that is not a wildcard."""
    concrete = [name for name in server_names if "*" not in name]
    return concrete[0] if concrete else server_names[0].removeprefix("*.")


def site_origins(data: dict[str, Any]) -> list[str]:
    """The origins of pages the site itself serves: one per server name that is not a wildcard."""
    scheme, port, default_port = public_endpoint(data)
    return [f"{scheme}://{_authority(host, port, default_port)}" for host in data["site"]["server_names"]
            if isinstance(host, str) and "*" not in host]


def _balancer(balancer: dict[str, Any], name: str, tls: dict[str, Any], site: dict[str, Any]) -> dict[str, Any]:
    """What the balancer templates need: hosts with their backend port, names, cookie, TLS policy."""
    balancer = dict(balancer)
    balancer["enabled"] = balancer["kind"] != "none"
    balancer["backend_tls"] = balancer["backend_protocol"] == "https" and tls["profile"] != "off"
    balancer["backend_port"] = site["https_port"] if balancer["backend_tls"] else site["http_port"]
    balancer["hosts"] = [
        {**host, "address_literal": f"[{host['address']}]" if ":" in host["address"] else host["address"]}
        for host in balancer["hosts"]
    ]
    # AWS requires a health check's timeout below its interval (2-120 s); HAProxy's `timeout check` takes it too.
    balancer["health_check_timeout"] = min(max(balancer["health_check_interval"] - 1, 1), 120)
    balancer["name"] = balancer["name"] or name
    balancer["target_group_name"] = f"{balancer['name']}-tg"
    # The ALB's lb_cookie has a fixed name; HAProxy inserts the profile's.
    balancer["cookie_name"] = "AWSALB" if balancer["kind"] == "alb" else balancer["cookie_name"]
    balancer["ssl_policy"] = balancer["ssl_policy"] or ALB_SSL_POLICIES[tls["profile"]]
    # The name the balancer sends in SNI and Host to the hosts, and checks their certificate for.
    balancer["backend_server_name"] = primary_server_name(site["server_names"])
    # HAProxy reads hard-stop-after 0 as "never": an ALB's 0 (no drain) is one second there.
    balancer["hard_stop_after"] = max(balancer["deregistration_delay"], 1)
    return balancer


def _gunicorn_args(server: dict[str, Any]) -> list[str]:
    """gunicorn's arguments, less --bind: the same in the systemd unit and `swarmdeploy serve`."""
    worker = ["-k", "gevent", "-w", "1"] if server["async_mode"] == "gevent" else ["-w", "1", "--threads", str(server["threads"])]
    return [
        "--no-control-socket",  # gunicorn 27 otherwise writes ~/.gunicorn, which ProtectHome forbids
        *worker,
        "--worker-connections", str(server["worker_connections"]),
        "--log-level", server["log_level"],
        "--access-logfile", "-",
        "--error-logfile", "-",
        f"{server['app']}()",
    ]


def resolve(data: dict[str, Any]) -> Model:
    """The model for a profile that passed validation (schema defaults already filled in)."""
    name = data["name"]
    server = dict(data["server"])
    socketio = dict(data["socketio"])
    site = dict(data["site"])
    tls = dict(data["tls"])
    proxy = dict(data["proxy"])
    balancer = dict(data["load_balancer"])
    verify = dict(data["verify"])
    tls_on = tls["profile"] != "off"
    scheme, public_port, default_port = public_endpoint(data)

    server["ports"] = [server["base_port"] + i for i in range(server["instances"])]
    server["bind_host"] = f"[{server['bind']}]" if ":" in server["bind"] else server["bind"]
    # gunicorn's connections plus its own files and the Redis connection.
    server["open_files_limit"] = server["worker_connections"] + 1024
    server["venv"] = server["venv"] or f"/opt/swarmdeploy/{name}/venv"
    server["config_dir"] = server["config_dir"] or f"/etc/swarmdeploy/{name}"
    server["env_file"] = f"{server['config_dir']}/{name}.env"
    # Tokens named by auth_token_env / publish_token_env live here, never in the profile or bundle.
    server["secrets_file"] = f"{server['config_dir']}/{name}.secrets.env"
    server["gunicorn_args"] = _gunicorn_args(server)

    if socketio["cors_allowed_origins"] is None:
        socketio["cors_allowed_origins"] = site_origins(data)
    socketio["ping_total"] = socketio["ping_interval"] + socketio["ping_timeout"]

    site["listen_prefix"] = f"{site['listen_address']}:" if site["listen_address"] else ""
    site["public_authority_suffix"] = "" if public_port == default_port else f":{public_port}"
    balancer = _balancer(balancer, name, tls, site)
    # The hosts' nginx serves TLS itself unless the balancer in front speaks plain HTTP to it.
    site["serves_tls"] = tls_on and (not balancer["enabled"] or balancer["backend_tls"])
    # A balancer that reaches hosts over IPv6 needs their nginx on [::] too (listen without an address is IPv4).
    site["listen_ipv6"] = not site["listen_address"] and any(":" in host["address"] for host in balancer["hosts"])
    tls["enabled"] = tls_on
    tls["hsts"] = tls["hsts"] and tls_on
    tls.update(MOZILLA_TLS[tls["profile"]])
    tls["min_version"] = MIN_TLS_VERSION[tls["profile"]]
    tls["ciphersuites"] = TLS13_CIPHERSUITES
    tls["ecdh_curves"] = ECDH_CURVES
    tls["hsts_header"] = HSTS_HEADER

    proxy["http2_directive"] = _version_tuple(proxy["version"]) >= NGINX_HTTP2_DIRECTIVE_SINCE
    if proxy["real_ip_from"] is None:
        proxy["real_ip_from"] = PRIVATE_RANGES if balancer["kind"] != "none" else []
    # Each proxied WebSocket holds two descriptors (client and upstream) in the worker.
    proxy["worker_rlimit_nofile"] = proxy["worker_connections"] * 2
    proxy["upstream"] = f"{name.replace('-', '_')}_instances"
    # Instances marked `down` in the upstream: none in a rendered bundle; a drained rolling restart renders the
    # site with the one it is about to stop (swarmdeploy/deploy/drain.py).
    proxy["draining_ports"] = []
    # Behind a balancer the scheme clients used is the public one, whatever the balancer speaks to nginx.
    proxy["forwarded_proto"] = scheme if balancer["enabled"] else "$scheme"

    verify["url"] = verify["url"] or f"{scheme}://{primary_server_name(site['server_names'])}{site['public_authority_suffix']}"
    verify["origin"] = verify["origin"] or (socketio["cors_allowed_origins"] or [None])[0]
    # Where http:// must answer with the redirect: the balancer's port when one is in front.
    verify["http_port"] = (balancer if balancer["enabled"] else site)["http_port"]

    return {
        "name": name,
        "ident": name.replace("-", "_"),
        "environment": data["environment"],
        "server": server,
        "socketio": socketio,
        "site": site,
        "tls": tls,
        "proxy": proxy,
        "load_balancer": balancer,
        "verify": verify,
        "monitoring": resolve_monitoring(data["monitoring"], name, server, socketio, balancer),
    }
