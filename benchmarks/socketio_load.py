"""Load benchmark of the bundled server behind nginx with TLS, as profiles/prod.yaml deploys it.

Starts Redis, the profile's instances (the systemd unit's command line) and nginx (rendered
site, TLS) on loopback ports; then N asyncio clients speak Engine.IO 4 / Socket.IO 5 over
WebSocket (a minimal client: the test is of the server, not of python-socketio), each pinging
once a second. Prints RTT percentiles, lost pongs, connections, and server memory per
connection. Bounded: clients, ramp and duration are capped, every wait has a timeout.

    .venv/bin/python benchmarks/socketio_load.py --clients 1000 --duration 30

Clients bind to source addresses 127.0.X.Y: nginx's ip_hash keys on the first three octets
(FACTS.md §2) and limit_conn on the address, so one source address would put every client on
one instance and hit the per-client connection limit.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from host_render import make_certificate  # noqa: E402
from server_stack import (  # noqa: E402 - the tests' stack: same unit command line, same supervisor
    Supervisor, free_ports, http_json, start_instances, start_nginx, start_redis, wait_until,
)

MAX_CLIENTS = 9000  # two descriptors each in the client, below the 20,000 hard limit
CONNECT_TIMEOUT = 30.0


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def prod_profile(workdir: Path, redis_url: str, instances: int | None) -> Path:
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
    data["verify"] = {"url": f"https://localhost:{https_port}", "origin": f"https://localhost:{https_port}"}
    path = workdir / "prod-bench.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class Stats:
    def __init__(self) -> None:
        self.rtts: list[float] = []
        self.sent = self.received = self.connected = self.failed = 0
        self.measuring = False  # pings sent during the warm-up are answered but not counted
        self.errors: dict[str, int] = {}

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


async def client(index: int, url: str, origin: str, ssl_context: ssl.SSLContext, stats: Stats,
                 start_pinging: asyncio.Event, stop: asyncio.Event, done: asyncio.Event) -> None:
    local = f"127.0.{index % 64}.{1 + (index // 64) % 250}"
    connector = aiohttp.TCPConnector(local_addr=(local, 0), ssl=ssl_context, limit=1)
    outstanding: dict[int, tuple[float, bool]] = {}
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.ws_connect(url, headers={"Origin": origin}, timeout=aiohttp.ClientWSTimeout(ws_close=5),
                                          autoping=False, max_msg_size=0) as ws:
                opened = await asyncio.wait_for(ws.receive(), CONNECT_TIMEOUT)
                if opened.type != aiohttp.WSMsgType.TEXT or not opened.data.startswith("0"):
                    raise ConnectionError(f"no Engine.IO open packet: {opened.data!r}")
                await ws.send_str("40")  # Socket.IO connect to namespace /
                reply = await asyncio.wait_for(ws.receive(), CONNECT_TIMEOUT)
                if not str(reply.data).startswith("40"):
                    raise ConnectionError(f"namespace refused: {reply.data!r}")
                stats.connected += 1

                async def reader() -> None:
                    async for message in ws:
                        if message.type != aiohttp.WSMsgType.TEXT:
                            break
                        data = message.data
                        if data == "2":  # Engine.IO ping from the server
                            await ws.send_str("3")
                        elif data.startswith('42["pong"'):
                            now = time.perf_counter()
                            seq = json.loads(data[2:])[1]["payload"]["s"]
                            sent, measured = outstanding.pop(seq, (0.0, False))
                            if measured:
                                stats.rtts.append((now - sent) * 1000)
                                stats.received += 1

                read_task = asyncio.create_task(reader())
                await start_pinging.wait()
                await asyncio.sleep(random.random())  # spread pings over the second
                seq = 0
                next_at = time.perf_counter()
                while not stop.is_set():
                    seq += 1
                    outstanding[seq] = (time.perf_counter(), stats.measuring)
                    await ws.send_str('42["ping",{"s":%d}]' % seq)
                    stats.sent += stats.measuring
                    next_at += 1.0
                    await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                await done.wait()  # grace period for the last pongs
                read_task.cancel()
    except Exception as error:  # noqa: BLE001 - counted and reported
        stats.failed += 1
        stats.error(type(error).__name__ + ": " + str(error)[:80])


async def drive(url: str, origin: str, clients: int, ramp_per_s: float, duration: float,
                measure_memory, measure_cpu, stats: Stats) -> dict[str, float]:
    ssl_context = ssl.create_default_context()
    ssl_context.check_hostname = False
    ssl_context.verify_mode = ssl.CERT_NONE  # self-signed benchmark certificate
    start_pinging, stop, done = asyncio.Event(), asyncio.Event(), asyncio.Event()
    tasks = []
    for index in range(clients):
        tasks.append(asyncio.create_task(client(index, url, origin, ssl_context, stats, start_pinging, stop, done)))
        await asyncio.sleep(1.0 / ramp_per_s)
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while stats.connected + stats.failed < clients and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(2)  # let connection set-up garbage settle before measuring
    memory = measure_memory()
    # The load generator's own collector pauses would show up as server latency: freeze what
    # the connections built and keep its collector off while measuring (bounded run).
    gc.collect()
    gc.freeze()
    gc.disable()
    start_pinging.set()
    await asyncio.sleep(3)  # warm-up: not measured
    stats.measuring = True
    cpu_before = measure_cpu()
    await asyncio.sleep(duration)
    cpu_after = measure_cpu()
    stats.measuring = False
    memory["cpu_percent"] = {k: round(100 * (cpu_after[k] - cpu_before[k]) / duration, 1) for k in cpu_before}
    stop.set()
    await asyncio.sleep(3)  # grace for pongs in flight
    done.set()
    await asyncio.wait(tasks, timeout=30)
    return memory


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


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

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by gunicorn and nginx

    with tempfile.TemporaryDirectory(prefix="swarmdeploy-bench-") as tmp:
        workdir = Path(tmp)
        supervisor = Supervisor(workdir)
        try:
            profile = prod_profile(workdir, start_redis(supervisor), args.instances)
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
            stats = Stats()
            origin = f"https://localhost:{port}"
            url = f"wss://localhost:{port}{stack.model['socketio']['path']}/?EIO=4&transport=websocket"
            started = time.monotonic()
            def cpu() -> dict[str, float]:
                return {"instances": sum(cpu_seconds(pid) for pid in workers),
                        "nginx": sum(cpu_seconds(pid) for pid in children(nginx_master)),
                        "redis": cpu_seconds(redis_pid), "load_client": cpu_seconds(os.getpid())}

            loaded = asyncio.run(drive(url, origin, clients, args.ramp, duration, server_memory, cpu, stats))
            per_instance = loaded["clients"]
        finally:
            supervisor.stop_all()

    result = {
        "clients": clients, "connected": stats.connected, "failed": stats.failed,
        "instances": len(workers), "clients_per_instance": per_instance,
        "pings_sent": stats.sent, "pongs_received": stats.received, "lost_pongs": stats.sent - stats.received,
        "rtt_ms": {"p50": round(percentile(stats.rtts, 50), 2), "p95": round(percentile(stats.rtts, 95), 2),
                   "p99": round(percentile(stats.rtts, 99), 2), "max": round(max(stats.rtts, default=float("nan")), 2),
                   "mean": round(statistics.fmean(stats.rtts), 2) if stats.rtts else None},
        "server_kib_per_connection": round((loaded["instances_kib"] - idle["instances_kib"]) / max(1, stats.connected), 1),
        "nginx_kib_per_connection": round((loaded["nginx_kib"] - idle["nginx_kib"]) / max(1, stats.connected), 1),
        "cpu_percent": loaded["cpu_percent"],  # of one core, during the measured window
        "measured_seconds": duration, "wall_seconds": round(time.monotonic() - started, 1),
        "errors": stats.errors,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    rtt = result["rtt_ms"]
    print(f"clients {clients}: connected {stats.connected}, failed {stats.failed}, per instance {per_instance}")
    print(f"RTT p50 {rtt['p50']} ms, p95 {rtt['p95']} ms, p99 {rtt['p99']} ms, max {rtt['max']} ms")
    print(f"pings {stats.sent}, pongs {stats.received}, lost {result['lost_pongs']}")
    print(f"memory per connection: server {result['server_kib_per_connection']} KiB, "
          f"nginx {result['nginx_kib_per_connection']} KiB")
    print("CPU % of one core while measuring:", json.dumps(result["cpu_percent"]))
    if stats.errors:
        print("errors:", json.dumps(stats.errors))


if __name__ == "__main__":
    os.environ.pop("REQUESTS_CA_BUNDLE", None)
    main()
