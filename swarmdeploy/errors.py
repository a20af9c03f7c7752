"""User-facing errors. Each carries its exit code; the CLI prints them without a traceback."""

from __future__ import annotations

from swarmdeploy.findings import Finding


class SwarmdeployError(Exception):
    """A mistake the user can fix; never a bug in swarmdeploy."""

    exit_code = 1


class ProfileError(SwarmdeployError):
    """The profile is invalid: every problem found, not just the first."""

    exit_code = 2

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        super().__init__("\n".join(f.format() for f in findings))


class UsageError(SwarmdeployError):
    """The command was asked for something that cannot be (nothing deployed to verify, an unknown name)."""

    exit_code = 2


class OutputDirError(SwarmdeployError):
    """The output directory exists and is not a swarmdeploy bundle."""

    exit_code = 2
