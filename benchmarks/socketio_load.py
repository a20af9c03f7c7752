"""Load benchmark of the bundled server behind nginx with TLS, as profiles/prod.yaml deploys it.

Starts Redis, the profile's instances (the systemd unit's command line) and nginx (rendered
site, TLS) on loopback ports; then N asyncio clients speak Engine.IO 4 / Socket.IO 5 over
WebSocket (a minimal client: the test is of the server, not of python-socketio), each pinging
once a second: swarmdeploy/bench/client.py in the worker processes `swarmdeploy bench` runs (up to
5,000 clients each: a process may hold 20,000 descriptors here, and one event loop's own delays
would count as the server's). Prints RTT percentiles, lost pongs, connections, server memory per
connection and CPU per round trip. Bounded: clients, ramp and duration are capped, every wait has a
timeout.

    .venv/bin/python benchmarks/socketio_load.py --clients 1000 --duration 30
    .venv/bin/python benchmarks/socketio_load.py --clients 10000 --duration 30   # 2 load processes

Clients bind to source addresses 127.0.X.Y: nginx's ip_hash keys on the first three octets
(FACTS.md §2) and limit_conn on the address, so one source address would put every client on
one instance and hit the per-client connection limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from host_render import make_certificate
from server_stack import Supervisor, free_ports, http_json, start_instances, start_nginx, start_redis, wait_until

from swarmdeploy.bench.client import percentile
from swarmdeploy.bench.pool import Measured, Pool, processes_for
from swarmdeploy.bench.procfs import children, cpu_seconds, rss_kib
from swarmdeploy.bench.target import BenchTarget

# What these 2 cores were measured to hold (docs/benchmarks.md). Past it: more cores, and nginx workers' 20,000
# descriptors each (two per client) once nginx spreads clients unevenly.
MAX_CLIENTS = 10_000
GRACE_S = 3.0  # pongs still in flight when the window closes are waited for this long


def prod_profile(workdir: Path, redis_url: str, instances: int | None, clients: int) -> Path:
    """profiles/prod.yaml with only paths and ports changed (and instances when asked)."""
    data = yaml.safe_load((REPO / "profiles" / "prod.yaml").read_text())
    cert, key = make_certificate(workdir, ["localhost"])
    https_port, http_port = free_ports(1), free_ports(1)
    count = instances or data["server"]["instances"]
    data["server"].update(base_port=free_ports(count), message_queue=redis_url, venv=sys.prefix,
                          config_dir=str(workdir), log_level="warning", instances=count)
    data["site"] = {"server_names": ["localhost"], "http_port": http_port, "https_port": https_port}
    data["socketio"]["cors_allowed_origins"] = [f"https://localhost:{https_port}"]
    data["tls"].update(certificate=str(cert), certificate_key=str(key))
    data["proxy"].update(pid_file=str(workdir / "nginx.pid"), log_dir=str(workdir), user="root")
    # Past the profile's 8,192 a worker would refuse connections ("worker_connections are not enough").
    data["proxy"]["worker_connections"] = max(data["proxy"].get("worker_connections", 8192), clients + 1000)
    data["verify"] = {"url": f"https://localhost:{https_port}", "origin": f"https://localhost:{https_port}"}
    path = workdir / "prod-bench.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


async def drive(target: BenchTarget, clients: int, ramp_per_s: float, duration: float,
                measure_memory: Callable[[], dict[str, Any]],
                measure_cpu: Callable[[Pool], dict[str, float]]) -> tuple[dict[str, Any], Measured, int]:
    """Connect every client, warm up, measure; (memory and CPU %, the window, load processes)."""
    pool = await Pool.start(target, processes_for(clients))
    try:
        await pool.grow(clients, ramp_per_s, lambda settled: None)
        await asyncio.sleep(2)  # let connection set-up garbage settle before measuring
        memory = measure_memory()
        await asyncio.sleep(3)  # warm-up: not measured
        cpu_before = measure_cpu(pool)
        measuring = asyncio.create_task(pool.measure(duration, GRACE_S))
        await asyncio.sleep(duration)
        cpu_after = measure_cpu(pool)
        memory["cpu_percent"] = {k: round(100 * (cpu_after[k] - cpu_before[k]) / duration, 1) for k in cpu_before}
        return memory, await measuring, len(pool.processes)
    finally:
        await pool.stop()


def per_round_trip(cpu_percent: dict[str, float], seconds: float, round_trips: int) -> dict[str, float]:
    """CPU microseconds per completed round trip (pong received) of each process group in the measured window;
    "server" is what the deployment pays: instances + nginx. The load client is reported beside it."""
    per = {name: round(percent / 100 * seconds / max(1, round_trips) * 1e6, 1) for name, percent in cpu_percent.items()}
    per["server"] = round(per["instances"] + per["nginx"], 1)
    return per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds (max 300)")
    parser.add_argument("--ramp", type=float, default=500.0, help="new connections per second")
    parser.add_argument("--instances", type=int, default=None, help="default: the profile's (prod: 2)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    clients = min(args.clients, MAX_CLIENTS)
    duration = min(args.duration, 300.0)

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by gunicorn and nginx

    with tempfile.TemporaryDirectory(prefix="swarmdeploy-bench-") as tmp:
        workdir = Path(tmp)
        supervisor = Supervisor(workdir)
        try:
            profile = prod_profile(workdir, start_redis(supervisor), args.instances, clients)
            redis_pid = supervisor.processes[-1][0].pid
            stack = start_instances(supervisor, profile)
            start_nginx(supervisor, workdir / "nginx", stack.files, stack.model["name"])
            port = stack.model["site"]["https_port"]
            insecure = ssl.create_default_context()
            insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
            wait_until(lambda: http_json(f"https://127.0.0.1:{port}/healthz", context=insecure), 20, "nginx")
            nginx_master = supervisor.processes[-1][0].pid
            workers = [instance.health()["pid"] for instance in stack.instances]

            def server_memory() -> dict[str, float]:
                return {"instances_kib": sum(rss_kib(pid) for pid in workers),
                        "nginx_kib": sum(rss_kib(pid) for pid in children(nginx_master)),
                        "clients": [instance.health()["clients"] for instance in stack.instances]}

            idle = server_memory()
            # The benchmark's self-signed certificate is its own authority (prod_profile).
            target = BenchTarget(f"https://localhost:{port}", f"https://localhost:{port}", workdir / "fullchain.pem",
                                 stack.model)
            started = time.monotonic()

            def cpu(pool: Pool) -> dict[str, float]:
                return {"instances": sum(cpu_seconds(pid) for pid in workers),
                        "nginx": sum(cpu_seconds(pid) for pid in children(nginx_master)),
                        "redis": cpu_seconds(redis_pid), "load_client": pool.cpu_seconds()}

            loaded, window, load_processes = asyncio.run(drive(target, clients, args.ramp, duration, server_memory, cpu))
            per_instance = loaded["clients"]
        finally:
            supervisor.stop_all()

    failed = window.failed + window.dropped  # connected then lost counts as failed, as it always has here
    rtts = window.rtts_ms
    result = {
        "clients": clients, "connected": window.connected, "failed": failed, "load_processes": load_processes,
        "instances": len(workers), "clients_per_instance": per_instance,
        "pings_sent": window.sent, "pongs_received": window.received, "lost_pongs": window.sent - window.received,
        "rtt_ms": {"p50": round(percentile(rtts, 50), 2), "p95": round(percentile(rtts, 95), 2),
                   "p99": round(percentile(rtts, 99), 2), "max": round(max(rtts, default=float("nan")), 2),
                   "mean": round(statistics.fmean(rtts), 2) if rtts else None},
        "server_kib_per_connection": round((loaded["instances_kib"] - idle["instances_kib"]) / max(1, window.connected), 1),
        "nginx_kib_per_connection": round((loaded["nginx_kib"] - idle["nginx_kib"]) / max(1, window.connected), 1),
        "cpu_percent": loaded["cpu_percent"],  # of one core, during the measured window
        "cpu_us_per_round_trip": per_round_trip(loaded["cpu_percent"], duration, window.received),
        "load_average": os.getloadavg(),  # the machine is shared: say how busy it was
        "measured_seconds": duration, "wall_seconds": round(time.monotonic() - started, 1),
        "errors": window.errors,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    rtt = result["rtt_ms"]
    print(f"clients {clients} from {load_processes} load processes: connected {window.connected}, failed {failed}, "
          f"per instance {per_instance}")
    print(f"RTT p50 {rtt['p50']} ms, p95 {rtt['p95']} ms, p99 {rtt['p99']} ms, max {rtt['max']} ms")
    print(f"pings {window.sent}, pongs {window.received}, lost {result['lost_pongs']}")
    print(f"memory per connection: server {result['server_kib_per_connection']} KiB, "
          f"nginx {result['nginx_kib_per_connection']} KiB")
    print("CPU % of one core while measuring:", json.dumps(result["cpu_percent"]))
    load = " ".join(f"{value:.2f}" for value in result["load_average"])
    print("CPU µs per round trip:", json.dumps(result["cpu_us_per_round_trip"]), f"load average {load}")
    if window.errors:
        print("errors:", json.dumps(window.errors))


if __name__ == "__main__":
    os.environ.pop("REQUESTS_CA_BUNDLE", None)
    main()
