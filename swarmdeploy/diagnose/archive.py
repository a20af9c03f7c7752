"""The archive: packed as .tar.gz in memory, searched for every known secret
(compressed and not) and for private key blocks, and only then written, atomically and readable by its owner
only. A secret found means a bug in the redaction: nothing is written."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import time
from pathlib import Path

from swarmdeploy.bundle import check_file_output, write_atomically
from swarmdeploy.diagnose.scrub import KEY_MARKER, Scrubber
from swarmdeploy.errors import SwarmdeployError, UsageError

SUFFIXES = (".tar.gz", ".tgz")
FIX = "choose another -o path"


class SecretInArchive(SwarmdeployError):
    """A known secret survived redaction: refused, nothing written."""


def check_output(path: Path) -> None:
    """Before any work: a .tar.gz path that can be written."""
    if not path.name.endswith(SUFFIXES):
        raise UsageError(f"-o {path}: the archive is a gzipped tar: name it FILE.tar.gz")
    check_file_output(path, FIX)


def pack(top: str, files: dict[str, bytes]) -> bytes:
    """A .tar.gz of files under the folder `top`, in the order given (SUMMARY.txt first)."""
    buffer = io.BytesIO()
    now = time.time()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=int(now)) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mtime, info.mode = len(data), int(now), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def refuse_secrets(archive: bytes, scrub: Scrubber) -> None:
    """SecretInArchive naming where each known secret came from and which file holds it (never the value)."""
    tar_bytes = gzip.decompress(archive)
    found = [secret for secret in scrub.searchable
             if secret.value.encode() in tar_bytes or secret.value.encode() in archive]
    if KEY_MARKER in tar_bytes:
        raise SecretInArchive("refusing to write the archive: it holds a private key block; nothing was written "
                              "(a bug in swarmdeploy diagnose: please report it)")
    if found:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
        where = [f"{secret.source} in {', '.join(n for n, d in members.items() if secret.value.encode() in d) or 'the archive'}"
                 for secret in found]
        raise SecretInArchive(f"refusing to write the archive: {'; '.join(where)}; nothing was written "
                              "(a bug in swarmdeploy diagnose: please report it)")


def write(path: Path, archive: bytes) -> None:
    def fill(temporary: Path) -> None:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # logs and configs inside
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(archive)

    write_atomically(path, fill, FIX)
