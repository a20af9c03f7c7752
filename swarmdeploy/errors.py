"""User-facing errors: one class per kind of user mistake, each carrying its exit code. The CLI prints
them on one line without a traceback; a traceback means a bug in swarmdeploy.

Exit codes (README "Exit codes"): 0 ok; 1 a check, verify, deploy or rollback failed; 2 the command
line or the profile is wrong; 3 another change holds a lock (and, for `status` only, a service is down,
as `systemctl is-active` says).
"""

from __future__ import annotations

from pathlib import Path

from swarmdeploy.findings import Finding

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3


class SwarmdeployError(Exception):
    """Something the user can act on failed (a check, a deploy): never a bug in swarmdeploy."""

    exit_code = EXIT_FAILURE


class ProfileError(SwarmdeployError):
    """The profile is invalid: every problem found, not just the first."""

    exit_code = EXIT_USAGE

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        super().__init__("\n".join(f.format() for f in findings))


class UsageError(SwarmdeployError):
    """The command was asked for something that cannot be (a bad argument, an unknown name)."""

    exit_code = EXIT_USAGE


class OutputError(UsageError):
    """A path the user chose to write cannot be written, or must not be replaced."""

    @classmethod
    def from_os_error(cls, path: Path, error: OSError, fix: str) -> OutputError:
        """The OS's reason (naming the file it failed on when that is not `path`), and the fix."""
        failed_on = f"{error.filename}: " if error.filename and str(error.filename) != str(path) else ""
        return cls(f"cannot write {path}: {failed_on}{error.strerror or error}; {fix}")


class Locked(SwarmdeployError):
    """Another change of the same deployment or output holds its lock."""

    exit_code = EXIT_LOCKED
