"""Booted Debian 12 containers with systemd as PID 1: real hosts for tests, each with its own filesystem,
its own systemd and a private network (needs root, debootstrap and systemd-container; FACTS §4b).

The root is built once per machine, in two layers cached under CACHE, outside the repository:

    debian12-<recipe hash>/root             debootstrap minbase + PACKAGES, /etc/hosts added (about a minute)
    debian12-<recipe hash>/app-<wheel hash> an overlay upper dir: VENV with the wheel and its EXTRAS
                                            (tens of seconds)

A code change makes a new wheel and so rebuilds only the second; a change of the recipe rebuilds both. pip
reaches the registry while the layer is built (systemd-nspawn without --private-network, with this
machine's CA bundle), never from a booted container. Each boot() mounts an overlay of both layers with a
throw-away upper dir under CACHE/sessions, so no test changes the cache, and boots it with
`systemd-nspawn -b --private-network`. Commands run inside through `nsenter -a` into its init (the machine
has no machined). stop() powers it off (killing it if it does not go), then unmounts and deletes the session;
a pytest killed outright leaves its session behind, and the next boot() removes it.

    with booted("web1", image(wheel)) as host:
        host.run(["systemctl", "is-active", "nginx"])
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import inspect
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from conftest import REPO, missing, require_tool

CACHE = Path(os.environ.get("SWARMDEPLOY_TEST_CACHE", "/var/cache/swarmdeploy-tests"))
SUITE = "bookworm"
# procps is left out on purpose: the tests see a minimal host, and swarmdeploy reads /proc instead.
PACKAGES = ("systemd", "systemd-sysv", "dbus", "python3", "python3-venv", "nginx-light", "iproute2", "redis-server",
            "ca-certificates")
HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"  # minbase has no /etc/hosts
VENV = "/opt/swarmdeploy/venv"
EXTRAS = "server,verify"
PATH = f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOST_CA = Path(os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"))
BUILD_TIMEOUT = 900.0
BOOT_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0
REBOOT_EXIT = 133  # systemd-nspawn's exit status when the container asked for a reboot
_serial = itertools.count()


@dataclass(frozen=True)
class Image:
    """The two cached layers a container boots from, and what building them took (0: found in the cache)."""
    base: Path
    app: Path
    base_seconds: float
    app_seconds: float


def require_containers() -> None:
    """Skip on a laptop, fail under CI=true, unless this machine can build and boot containers."""
    if os.geteuid() != 0:
        missing("booted containers need root (CI runs these tests as root)")
    for tool in ("debootstrap", "systemd-nspawn", "nsenter", "mount", "umount"):
        require_tool(tool)
    if "overlay" not in Path("/proc/filesystems").read_text():
        missing("the kernel has no overlayfs: containers boot from an overlay of the cached root")


def build_wheel(outdir: Path) -> Path:
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir), str(REPO)], check=True,
                   capture_output=True, timeout=300)
    return next(outdir.glob("swarmdeploy-*.whl"))


def image(wheel: Path) -> Image:
    """The cached root with `wheel` installed in VENV, each layer built when missing (one builder at a time)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for partial in [*CACHE.glob("*.partial-*"), *CACHE.glob("*/*.partial-*")]:
            _remove_tree(partial)  # a build killed half-way: only a builder holding the lock makes these
        # The recipe is the data and the code that build a layer: a change to either rebuilds it.
        base_dir = CACHE / f"debian12-{_digest(SUITE, PACKAGES, HOSTS, inspect.getsource(_build_base))}"
        base_seconds = _timed(lambda: _build_base(base_dir)) if not (base_dir / "root").is_dir() else 0.0
        app = base_dir / f"app-{_digest(_wheel_digest(wheel), EXTRAS, VENV, inspect.getsource(_build_app))}"
        app_seconds = _timed(lambda: _build_app(base_dir / "root", app, wheel)) if not app.is_dir() else 0.0
        os.utime(app)  # last used now: pruning keeps the layers used last
        _prune(CACHE, "debian12-*", keep=[base_dir])
        # Older app layers only cost disk; the last few used stay for other checkouts booting from them now.
        _prune(base_dir, "app-*", keep=sorted(base_dir.glob("app-*"), key=lambda p: p.stat().st_mtime)[-3:])
    return Image(base_dir / "root", app, base_seconds, app_seconds)


@dataclass
class Container:
    """A booted container: commands run inside as root, with PATH reaching VENV's console scripts first."""
    name: str
    session: Path
    nspawn: subprocess.Popen[bytes] | None = None
    init: int = 0  # the container's PID 1, as this machine numbers it

    @property
    def root(self) -> Path:
        """Its filesystem, as mounted on this machine."""
        return self.session / "root"

    def run(self, argv: Sequence[str], *, input: str | None = None, timeout: float = 120.0,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """argv inside, with a clean environment (plus env), stdout and stderr captured as text."""
        return subprocess.run(self._inside(argv, env), input=input, check=False, capture_output=True, text=True,
                              errors="replace", timeout=timeout, start_new_session=True,
                              stdin=None if input is not None else subprocess.DEVNULL)

    def copy_in(self, source: Path, destination: str, mode: int = 0o644) -> None:
        """A file of this machine to `destination` inside (parents made), written by the container itself so
        that no symlink of its tree is followed out of it."""
        script = 'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1"'
        subprocess.run(self._inside(["/bin/sh", "-c", script, "sh", destination, f"{mode:o}"]),
                       input=source.read_bytes(), capture_output=True, check=True, timeout=60, start_new_session=True)

    def copy_out(self, source: str, destination: Path) -> None:
        data = subprocess.run(self._inside(["cat", source]), capture_output=True, check=True, timeout=60,
                              start_new_session=True).stdout
        destination.write_bytes(data)

    def reboot(self) -> float:
        """`systemctl reboot` inside; nspawn exits for it, and the same root boots again. Returns the seconds
        from the reboot until the new boot is up."""
        started = time.monotonic()
        self.run(["systemctl", "reboot"], timeout=30)  # it may lose its connection to systemd: no check
        if self.nspawn.wait(timeout=STOP_TIMEOUT) != REBOOT_EXIT:
            raise RuntimeError(f"{self.name} did not reboot:\n{self.console()}")
        self._start()
        return time.monotonic() - started

    def stop(self) -> None:
        """Power it off (SIGKILL after STOP_TIMEOUT), then unmount and delete its session; safe to repeat."""
        try:
            if self.nspawn and self.nspawn.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.run(["systemctl", "poweroff"], timeout=10)
                try:
                    self.nspawn.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    _halt(self.nspawn.pid)
                    self.nspawn.wait(timeout=STOP_TIMEOUT)
        finally:
            _remove_tree(self.session)

    def console(self, lines: int = 40) -> str:
        """The end of what the container printed on its console (the boot and shutdown messages)."""
        log = self.session / "console.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""

    def _inside(self, argv: Sequence[str], env: dict[str, str] | None = None) -> list[str]:
        """argv through nsenter. Run it in a session of its own (start_new_session): a process keeps its
        process group when it enters the container, so a `kill 0` inside would reach the tests' group."""
        settings = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", **(env or {})}
        return [shutil.which("nsenter") or "nsenter", "-t", str(self.init), "-a", "--", "/usr/bin/env", "-i",
                *(f"{key}={value}" for key, value in settings.items()), *argv]

    def _start(self) -> None:
        """Boot nspawn on the mounted root and wait until systemd has started every unit of the boot."""
        with (self.session / "console.log").open("ab") as console:
            self.nspawn = subprocess.Popen(
                ["systemd-nspawn", "--quiet", "--directory", str(self.root), "--boot", "--private-network",
                 "--register=no", "--keep-unit", "--console=read-only", f"--machine={self.name}"],
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT, start_new_session=True)
        (self.session / "nspawn.pid").write_text(str(self.nspawn.pid))  # for the cleanup of a killed pytest
        deadline = time.monotonic() + BOOT_TIMEOUT
        self.init = _wait(lambda: _init_of(self.nspawn.pid), deadline, f"{self.name}'s init", self)
        state = _wait(lambda: self._system_state(deadline), deadline, f"{self.name}'s boot", self)
        if state not in ("running", "degraded"):
            raise RuntimeError(f"{self.name} booted into state {state}:\n{self.console()}")

    def _system_state(self, deadline: float) -> str | None:
        """What `systemctl is-system-running --wait` says, None while systemd does not answer yet."""
        if self.nspawn.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.nspawn.returncode} while booting:\n{self.console()}")
        with contextlib.suppress(subprocess.TimeoutExpired):
            said = self.run(["systemctl", "is-system-running", "--wait"], timeout=max(deadline - time.monotonic(), 1))
            state = said.stdout.strip()
            return None if state in ("", "offline") else state  # offline: its bus is not up yet
        return None


def boot(name: str, layers: Image) -> Container:
    """A container named `name` (its hostname too), booted from a throw-away overlay of the image."""
    CACHE.joinpath("sessions").mkdir(parents=True, exist_ok=True)
    for stale in CACHE.joinpath("sessions").iterdir():
        if not _alive(_owner(stale)):  # left by a pytest killed outright, its container maybe still running
            _halt_orphan(stale)
            _remove_tree(stale)
    session = CACHE / "sessions" / f"{name}-{os.getpid()}-{next(_serial)}"
    for part in ("upper", "work", "root"):
        (session / part).mkdir(parents=True)
    container = Container(name, session)
    try:
        _mount_overlay([layers.app, layers.base], session)
        (container.root / "etc/hostname").write_text(f"{name}\n")
        container._start()
    except BaseException:
        container.stop()
        raise
    return container


@contextlib.contextmanager
def booted(name: str, layers: Image) -> Iterator[Container]:
    container = boot(name, layers)
    try:
        yield container
    finally:
        container.stop()


def mirror() -> str:
    """The Debian archive this machine's apt uses (deb822 .sources or one-line .list files)."""
    sources = Path("/etc/apt")
    for path in [sources / "sources.list", *sorted((sources / "sources.list.d").glob("*"))]:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for stanza in text.split("\n\n"):
                fields = dict(line.split(":", 1) for line in stanza.splitlines() if ":" in line and line[0].isalpha())
                uris, suites = fields.get("URIs", "").split(), fields.get("Suites", "").split()
                if SUITE in suites and uris and uris[0].rstrip("/").endswith("/debian"):
                    return uris[0]
        elif path.suffix == ".list" or path.name == "sources.list":
            for words in (line.split() for line in text.splitlines()):
                uris = [w for w in words[1:] if "://" in w]
                if words[:1] == ["deb"] and uris and uris[0].rstrip("/").endswith("/debian") and SUITE in words:
                    return uris[0]
    raise RuntimeError(f"no Debian {SUITE} archive in this machine's apt sources")


def _build_base(directory: Path) -> None:
    partial = directory.with_name(directory.name + f".partial-{os.getpid()}")
    partial.mkdir(parents=True)
    _check(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(partial / "root"),
            mirror()], BUILD_TIMEOUT, "debootstrap")
    (partial / "root/etc/hosts").write_text(HOSTS)
    partial.rename(directory)


def _build_app(base: Path, app: Path, wheel: Path) -> None:
    """VENV with the wheel, as an overlay upper dir over base. pip reaches the registry from here: this
    container shares the machine's network, resolver and CA bundle, and a pip cache kept beside the layers."""
    partial = app.with_name(app.name + f".partial-{os.getpid()}")
    for part in ("upper", "work", "root"):
        (partial / part).mkdir(parents=True)
    (CACHE / "pip").mkdir(exist_ok=True)
    ca = "/run/host-ca.crt"
    install = (f"python3 -m venv {VENV} && {VENV}/bin/pip install --quiet --disable-pip-version-check --no-input "
               f"'/run/wheel/{wheel.name}[{EXTRAS}]'")
    try:
        _mount_overlay([base], partial)
        _check(["systemd-nspawn", "--quiet", "--directory", str(partial / "root"), "--register=no", "--keep-unit",
                "--resolv-conf=copy-host", f"--bind-ro={wheel.parent}:/run/wheel", f"--bind-ro={HOST_CA}:{ca}",
                f"--bind={CACHE / 'pip'}:/root/.cache/pip", *(f"--setenv={v}={ca}" for v in (
                    "PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")), "/bin/sh", "-c", install],
               BUILD_TIMEOUT, "pip install in the container root")
        _unmount(partial / "root")
        (partial / "upper").rename(app)
    finally:
        _remove_tree(partial)


def _mount_overlay(lower: Sequence[Path], session: Path) -> None:
    options = f"lowerdir={':'.join(map(str, lower))},upperdir={session / 'upper'},workdir={session / 'work'}"
    _check(["mount", "-t", "overlay", "overlay", "-o", options, str(session / "root")], 30, "mount")


def _unmount(path: Path) -> None:
    """Unmount path and everything mounted below it (debootstrap mounts /proc and /sys in its target), deepest
    first, so that deleting the tree afterwards never reaches into a mounted file system."""
    below = sorted((point for point in _mount_points() if Path(point) == path or Path(point).is_relative_to(path)),
                   key=len, reverse=True)
    for point in below:
        if subprocess.run(["umount", point], check=False, capture_output=True, timeout=30).returncode:
            subprocess.run(["umount", "--lazy", point], capture_output=True, check=True, timeout=30)


def _remove_tree(path: Path) -> None:
    _unmount(path)
    shutil.rmtree(path, ignore_errors=True)


def _mount_points() -> list[str]:
    return [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]


def _prune(directory: Path, pattern: str, keep: list[Path]) -> None:
    for old in directory.glob(pattern):
        if old not in keep and ".partial-" not in old.name:
            _remove_tree(old)


def _init_of(nspawn: int) -> int | None:
    """The child of nspawn that is PID 1 of its own namespace (systemd, once it runs)."""
    try:
        children = Path(f"/proc/{nspawn}/task/{nspawn}/children").read_text().split()
        for child in children:
            status = Path(f"/proc/{child}/status").read_text()
            nspid = next(line.split()[1:] for line in status.splitlines() if line.startswith("NSpid:"))
            if nspid[-1] == "1" and Path(f"/proc/{child}/comm").read_text().strip() == "systemd":
                return int(child)
    except OSError:
        pass
    return None


def _wait(probe, deadline: float, what: str, container: Container):
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise TimeoutError(f"{what} took longer than {BOOT_TIMEOUT} s:\n{container.console()}")


def _halt(nspawn: int) -> None:
    """SIGKILL nspawn's children (its container's init: the kernel then kills every process of that
    namespace), then nspawn."""
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{nspawn}/task/{nspawn}/children").read_text().split():
            _kill(int(child))
    _kill(nspawn)


def _halt_orphan(session: Path) -> None:
    """Halt the nspawn a dead pytest left running on this session's root; a recycled pid is left alone."""
    try:
        pid = int((session / "nspawn.pid").read_text())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return
    if str(session / "root").encode() in command:
        _halt(pid)
        _wait_gone(pid)


def _kill(pid: int) -> None:
    """SIGKILL pid, pinned by a pidfd so that a recycled pid is never hit."""
    with contextlib.suppress(ProcessLookupError):
        fd = os.pidfd_open(pid)
        try:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        finally:
            os.close(fd)


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + STOP_TIMEOUT
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    """The process runs (a zombie does not)."""
    try:
        return pid > 0 and Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _owner(session: Path) -> int:
    """The pid of the process that booted a session (its name is NAME-PID-SERIAL); 0 for anything else."""
    pid = session.name.rsplit("-", 2)[-2] if session.name.count("-") >= 2 else ""
    return int(pid) if pid.isdigit() else 0


def _check(argv: list[str], timeout: float, what: str) -> None:
    result = subprocess.run(argv, check=False, capture_output=True, text=True, errors="replace", timeout=timeout)
    if result.returncode:
        raise RuntimeError(f"{what} failed ({result.returncode}):\n{(result.stderr or result.stdout)[-3000:]}")


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:12]


def _wheel_digest(wheel: Path) -> str:
    """The wheel's files, not its bytes: zip timestamps differ between two builds of the same code."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            digest.update(name.encode() + b"\0" + archive.read(name))
    return digest.hexdigest()


def _timed(build) -> float:
    started = time.monotonic()
    build()
    return time.monotonic() - started
