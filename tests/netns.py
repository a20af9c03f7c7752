"""Several real hosts on a private network, on this one machine, for multi-host tests (needs root).

A host is a Linux network namespace with its loopback up and one veth link (eth0) to a bridge.
The bridge lives in a "switch" namespace of its own, so the root namespace gains no link, address
or route, and every Network is a separate L2 segment: parallel Networks (two xdist workers, two CI
jobs) all use 10.213.0.0/24 without ever meeting. No namespace has a default route, so an address
outside the /24 is unreachable and nothing is sent. Namespace names start with sd<pid>-<n>.

A command on a host runs as `unshare --uts` (the host's hostname) around `ip netns exec` (its
network, and /etc/netns/<ns>/hosts bind-mounted over /etc/hosts); its children inherit both. Every
command has a UTS namespace of its own, all named after the host. The filesystem and the process
table stay shared: only the network and the hostname differ.

Processes are stopped by the namespace they are in, not only by Popen, because programs under test
daemonize: SIGTERM, SIGKILL after stop_timeout, then the namespaces and /etc/netns files are
deleted, also when the test failed. A pytest killed by SIGKILL leaves them behind (`ip netns list`).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest

from conftest import missing, require_tool

SUBNET = "10.213.0"  # first three octets of every Network's /24
NETNS_RUN = Path("/var/run/netns")  # where `ip netns add` pins namespaces
ETC_NETNS = Path("/etc/netns")  # `ip netns exec NS` bind-mounts /etc/netns/NS/FILE over /etc/FILE
BRIDGE = "br0"
HOST_LINK = "eth0"
MAX_HOSTS = 254  # addresses .1 to .254 of the /24
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL
KILL_TIMEOUT = 2.0  # seconds for SIGKILLed processes to disappear
IP_TIMEOUT = 10.0
POLL_INTERVAL = 0.02

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")  # one DNS label, lower case: a valid hostname
# Sets the hostname of the fresh UTS namespace with shell builtins (no PATH needed), then becomes "$@".
_SET_HOSTNAME = 'printf %s "$1" > /proc/sys/kernel/hostname && shift && exec "$@"'
_serial = itertools.count()  # tells apart the Networks of one process

NamespaceId = tuple[int, int]  # (st_dev, st_ino) of a namespace file


class Network:
    """Hosts on one private /24, each a network namespace with its own address and hostname.

    Entering (the context manager, or the `network` fixture) creates the namespaces; leaving stops
    every process inside them and deletes them.
    """

    def __init__(self, hosts: Sequence[str], hosts_map: Mapping[str, str] | None = None, *,
                 stop_timeout: float = STOP_TIMEOUT) -> None:
        """hosts: their hostnames (lower-case DNS labels), addressed .1, .2, ... in that order.
        hosts_map: extra names every host resolves, name -> host (e.g. {"dash.example.test": "lb"}).
        stop_timeout: seconds a process gets between SIGTERM and SIGKILL."""
        _check_names(hosts, hosts_map or {})
        prefix = f"sd{os.getpid()}-{next(_serial)}"
        self.hosts: tuple[str, ...] = tuple(hosts)
        self.hosts_map: dict[str, str] = dict(hosts_map or {})
        self.stop_timeout = stop_timeout
        self._switch = f"{prefix}_switch"  # "_" is not allowed in host names: no host can take this name
        self._namespaces = {host: f"{prefix}-{host}" for host in self.hosts}
        self._numbers = {host: number for number, host in enumerate(self.hosts, start=1)}  # address and switch port
        self._created: list[str] = []  # namespaces this Network made and must delete
        self._children: list[tuple[str, subprocess.Popen[bytes]]] = []  # (host, process) from spawn()

    # ------------------------------------------------------------ addresses and names

    def address(self, host: str) -> str:
        """The host's IPv4 address on the network, e.g. "10.213.0.2"."""
        return f"{SUBNET}.{self._numbers[host]}"

    def namespace(self, host: str) -> str:
        """The host's network namespace, for `ip -n` / `ip netns exec`."""
        return self._namespaces[host]

    def command(self, host: str, argv: Sequence[str]) -> list[str]:
        """argv as it runs on `host`: its hostname, network and /etc/hosts; for tools that start processes
        themselves. Their processes are stopped with the host once inside its namespace (a few ms after
        the start): spawn() covers that gap for its own."""
        return [_tool("unshare"), "--uts", "--", "/bin/sh", "-c", _SET_HOSTNAME, "sh", host,
                _tool("ip"), "netns", "exec", self.namespace(host), *argv]

    # ------------------------------------------------------------ processes

    def run(self, host: str, argv: Sequence[str], *, timeout: float = 30.0, env: Mapping[str, str] | None = None,
            check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run argv on `host` to completion, stdout and stderr captured as text; env None: this process's.

        Like subprocess.run it reads stdout to EOF: a background child that keeps it open blocks
        until `timeout`, so detach such children from stdout."""
        return subprocess.run(self.command(host, argv), env=_environment(host, env), stdin=subprocess.DEVNULL,
                              capture_output=True, encoding="utf-8", errors="replace", timeout=timeout, check=check)

    def spawn(self, host: str, argv: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.Popen[bytes]:
        """Start argv on `host` in the background, stdout and stderr appended to `log`; env None: this
        process's. It is stopped by stop_host(host) and at teardown."""
        with log.open("ab") as output:
            process = subprocess.Popen(self.command(host, argv), env=_environment(host, env), cwd=cwd,
                                       stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT)
        self._children.append((host, process))
        return process

    def stop_host(self, host: str) -> None:
        """Stop every process inside `host`, detached ones too, as if the host went down. Programs can be
        started on it again afterwards."""
        self._stop([self.namespace(host)], [host])

    # ------------------------------------------------------------ links

    def isolate(self, host: str) -> None:
        """Take the host's switch port down, like a pulled cable: the host keeps its address, and packets
        to and from it are lost until reconnect()."""
        _ip("-n", self._switch, "link", "set", self._port(host), "down")

    def reconnect(self, host: str) -> None:
        """Bring the host's switch port back up (connections that did not time out carry on)."""
        _ip("-n", self._switch, "link", "set", self._port(host), "up")

    # ------------------------------------------------------------ life cycle

    def __enter__(self) -> Self:
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop every process inside the network, then delete its namespaces and /etc/netns files (always)."""
        try:
            self._stop(list(self._created), list(self.hosts))
        finally:
            self._delete()

    def _create(self) -> None:
        for namespace in (self._switch, *self._namespaces.values()):
            _ip("netns", "add", namespace)
            self._created.append(namespace)
        for host in self.hosts:
            hosts_file = ETC_NETNS / self.namespace(host) / "hosts"
            hosts_file.parent.mkdir(parents=True)
            hosts_file.write_text(self._hosts_file(), encoding="utf-8")
        _ip("-n", self._switch, commands=self._switch_commands())
        for host in self.hosts:
            _ip("-n", self.namespace(host), commands=[
                f"addr add {self.address(host)}/24 dev {HOST_LINK}", f"link set {HOST_LINK} up", "link set lo up"])

    def _switch_commands(self) -> list[str]:
        """The bridge, and one veth pair per host created inside the switch: the root namespace never sees it."""
        commands = [f"link add {BRIDGE} type bridge", f"link set {BRIDGE} up"]
        for host in self.hosts:
            port = self._port(host)
            commands += [f"link add {port} type veth peer name {HOST_LINK} netns {self.namespace(host)}",
                         f"link set {port} master {BRIDGE} up"]
        return commands

    def _port(self, host: str) -> str:
        """The host's link in the switch, numbered like its address."""
        return f"p{self._numbers[host]}"

    def _hosts_file(self) -> str:
        """/etc/hosts inside every host: loopback, every host by its name, and the hosts_map names."""
        names = {host: [host] for host in self.hosts}
        for name, host in self.hosts_map.items():
            names[host].append(name)
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
        lines += [f"{self.address(host)}\t{' '.join(aliases)}" for host, aliases in names.items()]
        return "\n".join(lines) + "\n"

    def _stop(self, namespaces: Sequence[str], hosts: Sequence[str]) -> None:
        """SIGTERM every process inside the namespaces and every spawned child of the hosts (one may not have
        entered its namespace yet), SIGKILL those left after stop_timeout; spawned children are reaped."""
        targets = {_namespace_id(namespace) for namespace in namespaces}
        children = {process.pid: process for host, process in self._children if host in hosts}
        remaining: set[int] = set()
        for signum, grace in ((signal.SIGTERM, self.stop_timeout), (signal.SIGKILL, KILL_TIMEOUT)):
            signalled: set[int] = set()
            deadline = time.monotonic() + grace
            # Listed again on every round: a process may fork while it shuts down.
            while remaining := _pids_inside(targets) | {pid for pid, child in children.items() if child.poll() is None}:
                for pid in remaining - signalled:
                    if pid in children:
                        children[pid].send_signal(signum)
                    else:
                        _signal_inside(pid, signum, targets)
                signalled |= remaining
                if time.monotonic() > deadline:
                    break
                time.sleep(POLL_INTERVAL)
        self._children = [(host, process) for host, process in self._children if process.returncode is None]
        if remaining:
            raise RuntimeError(f"processes {sorted(remaining)} survived SIGKILL in {list(namespaces)}")

    def _delete(self) -> None:
        """Delete the namespaces and their /etc/netns directories, going on past failures to report them all."""
        failures: list[str] = []
        while self._created:
            namespace = self._created.pop()
            try:
                _ip("netns", "delete", namespace)
            except RuntimeError as error:
                failures.append(str(error))
            with contextlib.suppress(FileNotFoundError):  # the switch has none
                shutil.rmtree(ETC_NETNS / namespace)
        if failures:
            raise RuntimeError("; ".join(failures))


def _check_names(hosts: Sequence[str], hosts_map: Mapping[str, str]) -> None:
    """Host names become hostnames, namespace names and /etc/hosts lines: refuse anything else."""
    if not 1 <= len(hosts) <= MAX_HOSTS or len(set(hosts)) != len(hosts):
        raise ValueError(f"hosts must be 1 to {MAX_HOSTS} distinct names: {list(hosts)}")
    for host in hosts:
        if not _LABEL.fullmatch(host):
            raise ValueError(f"host name {host!r} is not a lower-case DNS label")
    for name, host in hosts_map.items():
        if host not in hosts:
            raise ValueError(f"hosts_map: {name!r} points to {host!r}, which is not a host of this network")
        if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in name.lower().split(".")):
            raise ValueError(f"hosts_map: {name!r} is not a DNS name")


def _environment(host: str, env: Mapping[str, str] | None) -> dict[str, str]:
    # Container CI exports HOSTNAME; a program reading it must see the host's name too.
    return {**(os.environ if env is None else env), "HOSTNAME": host}


@functools.cache
def _tool(name: str) -> str:
    """The tool's absolute path, so commands start whatever PATH the caller's env has."""
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"{name} is not installed (scripts/setup --test installs it)")
    return path


def _ip(*args: str, commands: Sequence[str] = ()) -> None:
    """`ip ARGS`; with commands, `ip ARGS -batch -` runs each of them in one process."""
    argv = [_tool("ip"), *args, *(["-batch", "-"] if commands else [])]
    result = subprocess.run(argv, input="\n".join(commands), capture_output=True, text=True, timeout=IP_TIMEOUT,
                            check=False)
    if result.returncode:
        raise RuntimeError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")


def _namespace_id(namespace: str) -> NamespaceId:
    stat = os.stat(NETNS_RUN / namespace)
    return stat.st_dev, stat.st_ino


def _netns_of(pid: int) -> NamespaceId | None:
    """The network namespace of a process; None once it has exited (a zombie has none)."""
    try:
        stat = os.stat(f"/proc/{pid}/ns/net")
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _pids_inside(targets: set[NamespaceId]) -> set[int]:
    """What `ip netns pids` lists, for several namespaces in one pass over /proc."""
    pids = (int(entry.name) for entry in os.scandir("/proc") if entry.name.isdigit())
    return {pid for pid in pids if _netns_of(pid) in targets}


def _signal_inside(pid: int, signum: int, targets: set[NamespaceId]) -> None:
    """Signal pid if it is inside one of the namespaces: checked after pinning the process with a pidfd,
    so a pid recycled by an unrelated process is never hit."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if _netns_of(pid) in targets:
            signal.pidfd_send_signal(pidfd, signum)
    except ProcessLookupError:
        pass  # exited in between
    finally:
        os.close(pidfd)


def require_netns() -> None:
    """Skip on a laptop, fail under CI=true, unless this process can make network namespaces."""
    if os.geteuid() != 0:
        missing("network namespaces need root (CI runs these tests as root)")
    for tool in ("ip", "unshare"):
        require_tool(tool)


@pytest.fixture(name="network")
def network_fixture() -> Iterator[Callable[..., Network]]:
    """Factory: network(hosts, hosts_map=None, stop_timeout=...) gives an entered Network, torn down after the test.

    Import it into the test module: `from netns import network_fixture  # noqa: F401`."""
    require_netns()
    with contextlib.ExitStack() as networks:
        def make(hosts: Sequence[str], hosts_map: Mapping[str, str] | None = None, *,
                 stop_timeout: float = STOP_TIMEOUT) -> Network:
            return networks.enter_context(Network(hosts, hosts_map, stop_timeout=stop_timeout))

        yield make
