"""Over SSH, for real: a test host (a network namespace, tests/netns.py) runs Debian's openssh-server, and a client
host reaches it only through the namespaces' network.

- ansible-playbook, on the client, applies the exported role with the exported playbook and inventory to the
  host over SSH (under a temporary root) and places exactly what the same role places locally; a second run
  changes nothing.
- `swarmdeploy deploy --service-manager process` runs a stack on the host; `swarmdeploy verify --host
  ssh://root@ADDRESS?ssh_config=...`, on the client, runs the host check through testinfra's SSH backend and
  passes; with one deployed file edited on the host, its drift check fails and names the file.

The namespace filesystem is shared, so the client reads the deployment record and the host's files are the
test's; everything the client learns about the host's processes and sockets comes over SSH. The wall time of
the module prints with `-s`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PROFILES, require_tool
from deploy_support import LocalDeployment, local_deployment
from netns import Network, require_netns
from ssh_support import SshServer
from test_export_ansible import ansible_env, apply_locally, export_for_host, installed, recap, role_variables

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("ssh")]

SWARMDEPLOY = str(Path(sys.executable).parent / "swarmdeploy")
HOST, CLIENT = "web-a", "client"  # web-a: the first host profiles/haproxy.yaml lists, so its inventory has it


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    require_netns()
    started = time.monotonic()
    with Network([HOST, CLIENT]) as net:
        sshd = SshServer(net, HOST, tmp_path_factory.mktemp("ssh"))
        try:
            sshd.start(CLIENT)
            yield sshd
        finally:
            sshd.stop()
    print(f"\nSSH tests: {time.monotonic() - started:.1f} s wall time, namespaces included")


def test_ssh_reaches_the_host_only_through_its_namespace(server: SshServer) -> None:
    logged_in = server.ssh(CLIENT, "hostname")
    assert logged_in.returncode == 0 and logged_in.stdout.strip() == HOST, logged_in.stderr
    # From the machine itself the address does not exist: no route leads there.
    direct = subprocess.run([require_tool("ssh"), "-F", str(server.client_config), server.address, "true"],
                            capture_output=True, text=True, timeout=30)
    assert direct.returncode == 255


def test_the_role_over_ssh_places_what_it_places_locally(server: SshServer, tmp_path: Path) -> None:
    _, export = export_for_host(PROFILES / "haproxy.yaml", tmp_path)
    local_root, remote_root = tmp_path / "local-root", tmp_path / "ssh-root"
    local, _ = apply_locally(export, local_root, tmp_path)
    recap(local)

    # Debian's own python3 on the host, as on a real one (discovery would find this machine's pyenv shims first).
    extra = {**role_variables(remote_root), "ansible_host": server.address, "ansible_become": False,
             "ansible_ssh_common_args": f"-F {server.client_config}", "ansible_python_interpreter": "/usr/bin/python3"}
    argv = [require_tool("ansible-playbook"), "-i", str(export / "inventory.yml"), str(export / "playbook.yml"),
            "--limit", HOST, "-e", json.dumps(extra)]
    # Pipelining: one SSH command per module (each pays root's shell start-up, ~0.35 s with this machine's pyenv).
    env = {**ansible_env(tmp_path), "ANSIBLE_PIPELINING": "True"}

    def apply_over_ssh() -> tuple[dict[str, int], float, str]:
        started = time.monotonic()
        result = server.net.run(CLIENT, argv, env=env, timeout=300)
        counts = recap(result)
        assert set(counts) == {HOST}, result.stdout
        return counts[HOST], time.monotonic() - started, result.stdout

    first, first_time, _ = apply_over_ssh()
    assert first["changed"] > 0
    assert installed(remote_root) == installed(local_root)
    second, second_time, said = apply_over_ssh()
    assert second["changed"] == 0, said
    print(f"\nrole over SSH: first run {first_time:.1f} s, second run {second_time:.1f} s")


@pytest.fixture
def deployed(server: SshServer, tmp_path: Path) -> Iterator[LocalDeployment]:
    """profiles/local.yaml deployed on the host with the process manager."""
    for tool in ("nginx", "redis-server"):
        require_tool(tool)
    local = local_deployment(tmp_path)
    result = server.net.run(HOST, [SWARMDEPLOY, "deploy", str(local.profile), "--root", str(local.root),
                                   "--service-manager", "process", "--yes"], timeout=240)
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        yield local
    finally:
        server.net.run(HOST, [SWARMDEPLOY, "stop", "--root", str(local.root)], timeout=60)


def verify_over_ssh(server: SshServer, root: Path) -> tuple[int, dict]:
    spec = f"ssh://root@{server.address}?ssh_config={server.client_config}"
    result = server.net.run(CLIENT, [SWARMDEPLOY, "verify", "--root", str(root), "--host", spec, "--only", "host",
                                     "--json"], timeout=120)
    assert result.stdout.startswith("{"), result.stdout + result.stderr
    [check] = json.loads(result.stdout)["checks"]
    return result.returncode, check


def test_verify_checks_the_host_over_ssh_and_names_a_drifted_file(server: SshServer,
                                                                  deployed: LocalDeployment) -> None:
    code, check = verify_over_ssh(server, deployed.root)
    observations = {o["what"]: o for o in check["observations"]}
    assert code == 0 and check["status"] == "pass", json.dumps(check, indent=1)
    # Sockets seen through SSH: the instances and nginx listen inside the host's namespace only.
    assert any(what.startswith("instance ") for what in observations) and any(
        what.startswith("nginx ") and what != "nginx -t" for what in observations)
    assert observations["nginx -t"]["status"] == observations["drift"]["status"] == "pass"

    env_file = deployed.layout.current / "systemd" / f"{deployed.data['name']}.env"
    env_file.write_text(env_file.read_text() + "SWARMDEPLOY_LOG_LEVEL=debug\n")
    code, check = verify_over_ssh(server, deployed.root)
    drift = {o["what"]: o for o in check["observations"]}["drift"]
    assert code == 1 and drift["status"] == "fail", json.dumps(check, indent=1)
    assert f"changed: {env_file}" in drift["saw"] and "redeploy" in drift["fix"], drift
