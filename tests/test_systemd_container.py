"""The production path, `swarmdeploy deploy --service-manager systemd`, under a real systemd: one booted
Debian 12 container (tests/container.py) shared by this module's tests, which run in order, each through
the product's own commands inside it. The demo profile (profiles/local.yaml, no --root: self-signed TLS,
two instances) with the queue on the container's own Redis, as a systemd host runs it.

Each test first deploys the release it starts from (`settled`): in order that is "nothing to deploy", and a
test that runs alone, or on another xdist worker with a container of its own, still starts where it should.

Figures (build, boot, deploy, redeploy, rollback, reboot times; each unit's exposure) are written to
CACHE/measurements.json."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import PROFILES
from container import CACHE, VENV, Container, booted, build_wheel, image, require_containers

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("systemd-container")]

NAME = "swarmbot-local"
PORTS = (18050, 18051)
UNITS = tuple(f"{NAME}@{port}.service" for port in PORTS)
PROFILE_DIR = "/root/profiles"
STATE = f"/var/lib/swarmdeploy/{NAME}"
MAX_EXPOSURE = 2.0
DYNAMIC_UIDS = range(61184, 65520)  # where systemd allocates DynamicUser= users
MEASURED: dict[str, object] = {}
# Every file the deployment put on the host, through the links systemd and nginx read: path -> [link, sha256].
SNAPSHOT_FILES = f"""
import hashlib, json, os, pathlib
paths = [p for p in pathlib.Path("{STATE}/current/").rglob("*")]
paths += [pathlib.Path(p) for p in ("/etc/systemd/system/{NAME}@.service", "/etc/systemd/system/{NAME}.target",
          "/etc/nginx/conf.d/{NAME}.conf", "/etc/swarmdeploy/{NAME}/{NAME}.env")]
paths += list(pathlib.Path("/etc/systemd/system").glob("*.wants/{NAME}*"))
print(json.dumps({{str(p): [os.readlink(p) if p.is_symlink() else None,
                           hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None] for p in paths}}))
"""


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    require_containers()
    module_started = time.monotonic()
    layers = image(build_wheel(tmp_path_factory.mktemp("wheel")))
    MEASURED.update(image_s=round(time.monotonic() - module_started, 1), debootstrap_s=round(layers.base_seconds, 1),
                    wheel_layer_s=round(layers.app_seconds, 1))
    started = time.monotonic()
    with booted("sd-systemd", layers) as container:
        MEASURED["boot_s"] = round(time.monotonic() - started, 2)
        yield container
    MEASURED["module_s"] = round(time.monotonic() - module_started, 1)
    (CACHE / "measurements.json").write_text(json.dumps(MEASURED, indent=2) + "\n")


def put_profile(machine: Container, workdir: Path, file_name: str, **changes: dict) -> str:
    """profiles/local.yaml inside, with the queue on the host's own Redis (Debian's redis-server.service: a
    systemd host runs its own), the instances in the container's venv, and sections changed."""
    data = yaml.safe_load((PROFILES / "local.yaml").read_text())
    data["server"].update(message_queue="redis://127.0.0.1:6379/0", message_queue_managed=False, venv=VENV)
    for section, values in changes.items():
        data[section].update(values)
    (workdir / file_name).write_text(yaml.safe_dump(data, sort_keys=False))
    machine.copy_in(workdir / file_name, f"{PROFILE_DIR}/{file_name}")
    return f"{PROFILE_DIR}/{file_name}"


def settled(machine: Container, workdir: Path, file_name: str, **changes: dict) -> str:
    """The release of this profile current and running (deployed when it is not); returns the profile's path."""
    profile = put_profile(machine, workdir, file_name, **changes)
    result = swarmdeploy(machine, "deploy", profile, "--yes")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    return profile


def swarmdeploy(machine: Container, *args: str, key: str | None = None):
    """`swarmdeploy ARGS` inside; its wall time is recorded under key."""
    started = time.monotonic()
    result = machine.run(["swarmdeploy", *args], timeout=300, env={"COLUMNS": "200"})
    if key:
        MEASURED[key] = round(time.monotonic() - started, 2)
    return result


def said(result) -> str:
    return " ".join((result.stdout + result.stderr).split())


def verified(machine: Container) -> dict:
    """`swarmdeploy verify` of the last deployment (no profile), which must pass."""
    result = swarmdeploy(machine, "verify", "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["status"] == "pass", result.stdout[-3000:] + result.stderr
    return report


def ping_intervals(report: dict) -> set[str]:
    """The pingInterval each instance answered verify's handshake with."""
    instances = next(check for check in report["checks"] if check["check"] == "instances")
    return {found for o in instances["observations"] for found in re.findall(r"pingInterval (\d+) ms", o["saw"])}


def show(machine: Container, unit: str, *properties: str) -> dict[str, str]:
    shown = machine.run(["systemctl", "show", f"--property={','.join(properties)}", unit]).stdout
    return dict(line.partition("=")[::2] for line in shown.splitlines())


def states(machine: Container) -> dict[str, dict[str, str]]:
    units = (*UNITS, f"{NAME}.target", "nginx.service", "redis-server.service")
    return {unit: show(machine, unit, "LoadState", "ActiveState", "SubState", "UnitFileState", "FragmentPath")
            for unit in units}


def snapshot(machine: Container) -> dict:
    """The deployment's files (byte for byte), its current release, and every unit's state."""
    files = machine.run([f"{VENV}/bin/python", "-c", SNAPSHOT_FILES])
    assert files.returncode == 0, files.stderr
    current = machine.run(["readlink", f"{STATE}/current"]).stdout.strip()
    return {"files": json.loads(files.stdout), "current": current, "units": states(machine)}


def wait_for(probe, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {probe.__doc__ or probe}")


def test_deploy_runs_hardened_instances_under_systemd_that_verify(machine: Container, tmp_path: Path) -> None:
    profile = put_profile(machine, tmp_path, "local.yaml")
    result = swarmdeploy(machine, "deploy", profile, "--service-manager", "systemd", "--yes", key="deploy_s")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert ping_intervals(verified(machine)) == {"25000"}
    for unit in (f"{NAME}.target", "nginx.service", "redis-server.service"):
        assert show(machine, unit, "ActiveState")["ActiveState"] == "active", unit
    exposure = {}
    for unit in UNITS:
        shown = show(machine, unit, "ActiveState", "DynamicUser", "MainPID", "UnitFileState")
        assert (shown["ActiveState"], shown["DynamicUser"], shown["UnitFileState"]) == ("active", "yes", "enabled")
        owner = machine.run(["cat", f"/proc/{shown['MainPID']}/status"]).stdout
        assert int(re.search(r"^Uid:\s+(\d+)", owner, re.MULTILINE)[1]) in DYNAMIC_UIDS, owner
        # The live unit as systemd runs it, not the file: what the deploy achieved on this host.
        analysis = machine.run(["systemd-analyze", "security", "--no-pager", unit]).stdout
        exposure[unit] = float(re.search(rf"Overall exposure level for {re.escape(unit)}: ([0-9.]+)", analysis)[1])
    MEASURED["exposure"] = exposure
    assert all(level <= MAX_EXPOSURE for level in exposure.values()), exposure


def test_systemd_restarts_a_killed_instance_and_status_reports_what_systemd_says(machine: Container,
                                                                                    tmp_path: Path) -> None:
    settled(machine, tmp_path, "local.yaml")
    unit = UNITS[0]
    before = show(machine, unit, "MainPID", "NRestarts")
    assert int(before["MainPID"]) > 0, before  # `kill 0` would signal the shell's own process group
    assert machine.run(["/bin/sh", "-c", f"kill -KILL {before['MainPID']}"]).returncode == 0

    def restarted() -> dict[str, str] | None:
        """systemd ran the instance again"""
        now = show(machine, unit, "MainPID", "NRestarts", "ActiveState")
        return now if now["ActiveState"] == "active" and now["MainPID"] not in ("0", before["MainPID"]) else None

    after = wait_for(restarted)
    assert int(after["NRestarts"]) == int(before["NRestarts"]) + 1
    result = swarmdeploy(machine, "status", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    row = next(r for r in json.loads(result.stdout)["services"] if r["unit"] == unit)
    assert (row["active_state"], row["sub_state"], row["pid"]) == ("active", "running", int(after["MainPID"]))
    assert row["restarts"] == int(after["NRestarts"]) and row["health"]["status"] == "ok"
    # The journal's last lines as journalctl shows them (a health probe may have added one since).
    journal = machine.run(["journalctl", "--unit", unit, "--lines", "40", "--no-pager", "--output",
                           "short-iso"]).stdout.splitlines()
    assert row["journal"] and any(journal[i:i + len(row["journal"])] == row["journal"] for i in range(len(journal)))
    assert any(f"[{after['MainPID']}]" in line for line in row["journal"]), row["journal"]  # the new process's
    verified(machine)


def test_a_redeploy_restarts_instances_one_at_a_time_and_reloads_nginx(machine: Container, tmp_path: Path) -> None:
    settled(machine, tmp_path, "local.yaml")
    master = show(machine, "nginx.service", "MainPID")["MainPID"]
    workers_before = nginx_workers(machine, master)
    cursor = machine.run(["journalctl", "--show-cursor", "--lines", "0", "--quiet"]).stdout.split("cursor: ")[-1]
    profile = put_profile(machine, tmp_path, "ping20.yaml", socketio={"ping_interval": 20})
    result = swarmdeploy(machine, "deploy", profile, "--yes", key="redeploy_s")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    events = unit_events(machine, cursor.strip(), (*UNITS, "nginx.service"))
    MEASURED["redeploy_journal"] = [f"{time_} {verb} {unit}" for time_, unit, verb in events]
    order = [(unit, verb) for _, unit, verb in events]
    reload = [("nginx.service", "Reloading"), ("nginx.service", "Reloaded")]
    # Drained (deploy/drain.py): nginx reloads with an instance marked down before that instance restarts, and
    # with the release's own site once it runs again, before the next one is drained.
    expected = [event for unit in UNITS for event in
                [*reload, (unit, "Stopping"), (unit, "Stopped"), (unit, "Starting"), (unit, "Started"), *reload]]
    assert order == expected, order
    steps = [line for line in result.stdout.splitlines() if line.startswith("[apply] ")]
    assert [step for step in steps if "instance-" in step or "nginx" in step] == [
        f"[apply] {what}" for port in PORTS
        for what in (f"instance-{port} drained: nginx sends it no new connection",
                     f"instance-{port} restarted and healthy", "nginx reloaded: every worker runs the release's site")
    ], steps
    site = machine.run(["readlink", "-f", f"/etc/nginx/conf.d/{NAME}.conf"]).stdout.strip()
    release = machine.run(["readlink", "-f", f"{STATE}/current"]).stdout.strip()
    assert site == f"{release}/nginx/{NAME}.conf", site  # not a drained copy
    assert show(machine, "nginx.service", "MainPID")["MainPID"] == master  # reloaded, not restarted
    assert nginx_workers(machine, master) - workers_before, "nginx started no new workers"
    assert ping_intervals(verified(machine)) == {"20000"}


def test_a_release_that_fails_verify_is_rolled_back_to_identical_files_and_units(machine: Container,
                                                                                   tmp_path: Path) -> None:
    settled(machine, tmp_path, "ping20.yaml", socketio={"ping_interval": 20})
    before = snapshot(machine)
    # A CA bundle that does not hold the self-signed certificate's CA: verify cannot trust the site.
    profile = put_profile(machine, tmp_path, "wrong-ca.yaml", socketio={"ping_interval": 15},
                          verify={"ca_file": "/etc/ssl/certs/ca-certificates.crt"})
    result = swarmdeploy(machine, "deploy", profile, "--yes", key="rollback_s")
    assert result.returncode == 1, result.stdout[-3000:]
    assert "verify failed" in said(result) and f"rolled back to {before['current'].rsplit('/', 1)[-1]} and it " \
                                                  "verifies" in said(result), said(result)[-2000:]
    assert snapshot(machine) == before
    assert ping_intervals(verified(machine)) == {"20000"}  # the running instances are the previous release's


def test_a_release_whose_instance_crash_loops_is_rolled_back_once_systemd_says_so(machine: Container,
                                                                                 tmp_path: Path) -> None:
    settled(machine, tmp_path, "ping20.yaml", socketio={"ping_interval": 20})
    before = snapshot(machine)
    # The server refuses to start without the token the profile names (this host has no secrets file), and
    # Restart=on-failure runs it again and again: /healthz never answers, systemd says at once that it exited.
    profile = put_profile(machine, tmp_path, "no-token.yaml", server={"auth_token_env": "SWARMBOT_TOKEN"})
    result = swarmdeploy(machine, "deploy", profile, "--yes", key="rollback_crash_s")
    assert result.returncode == 1, result.stdout[-3000:]
    assert f"{UNITS[0]} exited while starting" in said(result), said(result)[-2000:]  # not "did not answer"
    assert "$SWARMBOT_TOKEN, which is unset or empty" in said(result)  # the journal says why
    assert f"rolled back to {before['current'].rsplit('/', 1)[-1]} and it verifies" in said(result)
    assert snapshot(machine) == before
    assert ping_intervals(verified(machine)) == {"20000"}


def test_preflight_names_a_missing_package_and_changes_nothing(machine: Container, tmp_path: Path) -> None:
    settled(machine, tmp_path, "ping20.yaml", socketio={"ping_interval": 20})
    # No procps on this host, and none needed: everything above ran without ps or pgrep.
    assert machine.run(["dpkg-query", "--show", "procps"]).returncode != 0
    assert machine.run(["/bin/sh", "-c", "command -v ps || command -v pgrep"]).returncode != 0
    before = snapshot(machine)
    pids = {unit: show(machine, unit, "MainPID")["MainPID"] for unit in (*UNITS, "nginx.service")}
    machine.copy_out(f"{STATE}/deploy.log", tmp_path / "before.log")
    profile = put_profile(machine, tmp_path, "ping21.yaml", socketio={"ping_interval": 21})
    assert machine.run(["mv", "/usr/bin/systemd-analyze", "/root/systemd-analyze.away"]).returncode == 0
    try:
        result = swarmdeploy(machine, "deploy", profile, "--yes")
    finally:
        assert machine.run(["mv", "/root/systemd-analyze.away", "/usr/bin/systemd-analyze"]).returncode == 0
    assert result.returncode == 1
    assert "systemd-analyze is not installed: apt-get install systemd" in said(result), said(result)
    assert "nothing was changed" in said(result)
    assert snapshot(machine) == before
    assert {unit: show(machine, unit, "MainPID")["MainPID"] for unit in pids} == pids  # nothing restarted
    machine.copy_out(f"{STATE}/deploy.log", tmp_path / "after.log")
    assert (tmp_path / "after.log").read_bytes() == (tmp_path / "before.log").read_bytes()


def test_after_stop_and_a_reboot_the_enabled_target_brings_everything_back(machine: Container,
                                                                          tmp_path: Path) -> None:
    settled(machine, tmp_path, "ping20.yaml", socketio={"ping_interval": 20})
    result = swarmdeploy(machine, "stop")
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(show(machine, unit, "ActiveState")["ActiveState"] == "inactive" for unit in UNITS)
    down = swarmdeploy(machine, "status", "--json")
    assert down.returncode == 3 and set(json.loads(down.stdout)["down"]) == {f"instance-{p}" for p in PORTS}
    MEASURED["reboot_s"] = round(machine.reboot(), 2)
    for unit in (*UNITS, f"{NAME}.target", "nginx.service", "redis-server.service"):
        assert show(machine, unit, "ActiveState")["ActiveState"] == "active", unit
    assert ping_intervals(verified(machine)) == {"20000"}  # no `swarmdeploy start`: systemd alone


def nginx_workers(machine: Container, master: str) -> set[str]:
    """The nginx master's children, read from /proc inside (this host has no procps)."""
    listed = machine.run(["/bin/sh", "-c", f"grep -l '^PPid:[[:space:]]*{master}$' /proc/[0-9]*/status"]).stdout
    return {path.split("/")[2] for path in listed.split()}


def unit_events(machine: Container, cursor: str, units: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(time, unit, verb) of systemd's job messages about the units since the cursor, in journal order."""
    argv = ["journalctl", f"--after-cursor={cursor}", "--output", "json", "--no-pager"]
    for unit in units:
        argv += ["--unit", unit]
    events = []
    for line in machine.run(argv).stdout.splitlines():
        entry = json.loads(line)
        verb = str(entry.get("MESSAGE", "")).split(" ", 1)[0]
        if entry.get("UNIT") in units and verb in ("Stopping", "Stopped", "Starting", "Started", "Reloading",
                                                   "Reloaded"):
            stamp = time.strftime("%H:%M:%S", time.gmtime(int(entry["__REALTIME_TIMESTAMP"]) / 1e6))
            events.append((f"{stamp}.{int(entry['__REALTIME_TIMESTAMP']) % 1_000_000:06d}", entry["UNIT"], verb))
    return events
