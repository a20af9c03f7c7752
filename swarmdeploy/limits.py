"""What a profile may be at most, and reading a profile file within those limits.

A profile is a few kilobytes of YAML. Each limit is far above that and far below what would make
swarmdeploy hang or eat memory on a hostile or mistaken file (a device, a log, an alias bomb).
A profile past any of them is refused with a `yaml.limit` (or `yaml.file`) finding: exit 2.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_FILE_BYTES = 1024 * 1024  # the profile file
MAX_VALUES = 50_000  # scalars, lists and mappings, counting each alias as the values it repeats
MAX_ALIASES = 100  # `*name` references
MAX_DEPTH = 32  # lists and mappings inside each other, aliases expanded
MAX_NUMBER_CHARS = 100  # a number literal; Python refuses to print integers past 4,300 digits
MAX_SHOWN_CHARS = 500  # each part of a printed finding; the middle of a longer one is cut


class Refusal(Exception):
    """The profile cannot be read any further: one finding says where and why."""

    def __init__(self, rule: str, message: str, fix: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.rule, self.message, self.fix, self.line, self.column = rule, message, fix, line, column


_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


def read_profile(path: Path) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES.

    O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever; the file's type is
    checked on the opened descriptor, so it cannot change between the check and the read.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise Refusal("yaml.file", f"cannot open the profile: {error.strerror}",
                      "give the path of a readable profile file") from error
    try:
        kind = stat.S_IFMT(os.fstat(descriptor).st_mode)
        if kind != stat.S_IFREG:
            raise Refusal("yaml.file", f"the profile is {_KINDS.get(kind, 'not a regular file')}, not a file",
                          "give the path of a profile file (YAML); swarmdeploy reads only regular files")
        # Read one byte past the limit: a file that grows, or reports no size (/proc), is caught too.
        data = b""
        while len(data) <= MAX_FILE_BYTES:
            chunk = os.read(descriptor, MAX_FILE_BYTES + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except OSError as error:
        raise Refusal("yaml.file", f"cannot read the profile: {error.strerror}",
                      "give the path of a readable profile file") from error
    finally:
        os.close(descriptor)
    if len(data) > MAX_FILE_BYTES:
        raise Refusal("yaml.limit", f"the profile is larger than {MAX_FILE_BYTES:,} bytes",
                      "a profile is a few kilobytes of YAML: check that this is the right file")
    return data
