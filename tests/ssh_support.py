"""A real SSH server on a test host: Debian's openssh-server inside a network namespace (tests/netns.py), with
a host key, a config and an authorized key of the test's own, listening only on the host's address. Clients
(ssh, Ansible, testinfra) use the ssh_config it writes: its key, its known_hosts, strict host key checking.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from conftest import require_file, require_tool
from netns import Network

SSHD = Path("/usr/sbin/sshd")  # Debian's openssh-server
PRIVILEGE_SEPARATION_DIR = Path("/run/sshd")  # sshd refuses to start without it (Debian's unit creates it)
START_TIMEOUT = 10.0


@dataclass
class SshServer:
    net: Network
    host: str
    directory: Path
    process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return self.net.address(self.host)

    @property
    def client_config(self) -> Path:
        """ssh_config for `ssh -F`, Ansible (ansible_ssh_common_args) and testinfra (?ssh_config=)."""
        return self.directory / "ssh_config"

    @property
    def log(self) -> Path:
        return self.directory / "sshd.log"

    def start(self, client: str) -> None:
        """Keys, configs, then sshd in the foreground on the host; waits until `client` can log in."""
        keygen = require_tool("ssh-keygen")
        self.directory.mkdir(parents=True, exist_ok=True)
        host_key, user_key = self.directory / "ssh_host_ed25519_key", self.directory / "id_ed25519"
        for key in (host_key, user_key):
            subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", key.name, "-f", str(key)], check=True,
                           timeout=30)
        (self.directory / "authorized_keys").write_text(user_key.with_suffix(".pub").read_text())
        (self.directory / "known_hosts").write_text(f"{self.address} {host_key.with_suffix('.pub').read_text()}")
        config = self.directory / "sshd_config"
        config.write_text(f"""ListenAddress {self.address}
Port 22
HostKey {host_key}
PidFile {self.directory / "sshd.pid"}
AuthorizedKeysFile {self.directory / "authorized_keys"}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# The keys live under the test's temporary directory, below the world-writable /tmp.
StrictModes no
Subsystem sftp internal-sftp
""")
        self.client_config.write_text(f"""Host *
    User root
    IdentityFile {user_key}
    IdentitiesOnly yes
    UserKnownHostsFile {self.directory / "known_hosts"}
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 5
""")
        PRIVILEGE_SEPARATION_DIR.mkdir(mode=0o755, exist_ok=True)
        sshd = str(require_file(SSHD))
        checked = subprocess.run([sshd, "-t", "-f", str(config)], capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr
        self.process = self.net.spawn(self.host, [sshd, "-D", "-e", "-f", str(config)], log=self.log)
        deadline = time.monotonic() + START_TIMEOUT
        while self.ssh(client, "true").returncode != 0:
            assert self.process.poll() is None and time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.1)

    def ssh(self, client: str, command: str) -> subprocess.CompletedProcess[str]:
        """`command` on the host, logged in over SSH from the client host."""
        return self.net.run(client, [require_tool("ssh"), "-F", str(self.client_config), self.address, command],
                            timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
