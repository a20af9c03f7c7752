"""The scratch copy validators run on: a bundle's files, in which only the paths this machine cannot
serve point elsewhere. Files the profile names that do not exist here (TLS certificate and key,
HAProxy's PEM and CA file, the venv's gunicorn) point at stand-ins, and nginx's pid file and logs
point into the scratch dir because `nginx -t` writes them. Every change is listed for the report."""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fnmatch import fnmatch
from functools import cached_property
from pathlib import Path
from typing import Any

from swarmdeploy.errors import SwarmdeployError

Model = dict[str, Any]


@dataclass(frozen=True)
class StandIn:
    field: str  # the profile field, e.g. tls.certificate
    original: str  # the path the bundle names
    replacement: str  # the path the scratch copy names instead
    why: str  # what stands in and why, for the report


@dataclass(frozen=True)
class ScratchCopy:
    model: Model
    root: Path  # the bundle's files at their bundle-relative paths
    runtime: Path  # where the copy's pid file and logs point; tools may write here
    files: tuple[str, ...]  # bundle-relative
    stand_ins: tuple[StandIn, ...]

    def path(self, relative: str) -> Path:
        return self.root / relative

    def matching(self, patterns: Collection[str]) -> tuple[str, ...]:
        return tuple(f for f in self.files if any(fnmatch(f, pattern) for pattern in patterns))

    def relative(self, message: str) -> str:
        """A tool's message naming the bundle's files as the report does, not by their scratch paths."""
        return message.replace(f"{self.root}/", "")


class _Throwaway:
    """Stand-in TLS files for the profile's server names, made the first time one is needed."""

    def __init__(self, directory: Path, names: list[str]) -> None:
        self.directory, self.names = directory, names

    @cached_property
    def _files(self) -> tuple[Path, Path, Path]:
        try:
            from swarmdeploy.deploy.certificates import create_self_signed
        except ImportError as error:  # cryptography comes with the verify extra, not the core install
            raise SwarmdeployError(f"stand-in certificates need {error.name}: "
                                   "pip install 'swarmdeploy[verify]'") from None
        certificate, key = self.directory / "fullchain.pem", self.directory / "privkey.pem"
        ca = create_self_signed(certificate, key, self.names)
        return certificate, key, ca

    def certificate(self) -> Path:
        return self._files[0]

    def key(self) -> Path:
        return self._files[1]

    def ca(self) -> Path:
        return self._files[2]

    def pem(self) -> Path:
        """Chain and key in one file, as HAProxy's `crt` takes them."""
        pem = self.directory / "certificate-and-key.pem"
        if not pem.exists():
            pem.write_bytes(self.certificate().read_bytes() + self.key().read_bytes())
        return pem


# Fields naming a file a validator opens, and what stands in when this machine lacks it.
_ABSENT = " (not on this machine)"
STANDABLE: dict[str, tuple[Callable[[_Throwaway], Path], str]] = {
    "tls.certificate": (_Throwaway.certificate, "a throwaway self-signed certificate" + _ABSENT),
    "tls.certificate_key": (_Throwaway.key, "the throwaway certificate's key" + _ABSENT),
    "load_balancer.certificate": (_Throwaway.pem, "the throwaway certificate and key in one PEM" + _ABSENT),
    "load_balancer.backend_ca_file": (_Throwaway.ca, "the throwaway certificate's CA" + _ABSENT),
    "server.venv": (lambda _: Path(sys.prefix), f"this Python's venv {sys.prefix} (the profile's has no bin/gunicorn here)"),
}
# Paths `nginx -t` writes to (FACTS §4): always pointed into the scratch dir, named here.
_RUNTIME = {"proxy.pid_file": "nginx.pid", "proxy.log_dir": ""}


def _value(model: Model, field: str) -> str | None:
    section, key = field.split(".")
    return model[section].get(key)


def _lacking(model: Model) -> set[str]:
    """The fields whose file this machine lacks."""

    def missing(field: str, inside: str = "") -> bool:
        value = _value(model, field)
        return bool(value) and not (Path(value) / inside).exists()

    lacking = {field for field in ("load_balancer.certificate", "load_balancer.backend_ca_file") if missing(field)}
    if missing("tls.certificate") or missing("tls.certificate_key"):
        lacking |= {"tls.certificate", "tls.certificate_key"}  # a stand-in certificate needs its own key
    if missing("server.venv", "bin/gunicorn"):  # systemd-analyze verify needs ExecStart's binary
        lacking.add("server.venv")
    return lacking


def _as_whole_path(paths: Collection[str]) -> re.Pattern[str]:
    """Any of paths where it is a whole path in config text: /opt/a in '/opt/a/bin', not in '/opt/ab'.
    Longest first, so a path is matched before one it contains."""
    choices = "|".join(re.escape(p) for p in sorted(paths, key=len, reverse=True))
    return re.compile(rf"(?<![\w./])(?:{choices})(?![\w.-])")


def _stand_ins(model: Model, texts: Collection[str], scratch: Path, runtime: Path,
               allowed: Collection[str]) -> list[StandIn]:
    """The changes to make: runtime paths always, lacking files among allowed; each only where a file names it."""
    throwaway = _Throwaway(scratch / "stand-ins", model["site"]["server_names"])
    lacking = _lacking(model)
    made = []
    for field in [*_RUNTIME, *(f for f in STANDABLE if f in allowed and f in lacking)]:
        original = _value(model, field)
        if not original or not any(_as_whole_path([original]).search(text) for text in texts):
            continue
        if field in _RUNTIME:
            made.append(StandIn(field, original, str(runtime / _RUNTIME[field]),
                                "the scratch dir (nginx -t writes there)"))
        else:
            make, why = STANDABLE[field]
            made.append(StandIn(field, original, str(make(throwaway)), why))
    return made


@contextmanager
def scratch_copy(model: Model, files: dict[str, str],
                 stand_in: Collection[str] = tuple(STANDABLE)) -> Iterator[ScratchCopy]:
    """files written to a temporary directory, the lacking files among the stand_in fields stood in for."""
    with tempfile.TemporaryDirectory(prefix="swarmdeploy-check-") as name:
        scratch = Path(name).resolve()  # as tools print it, so their messages map back to the bundle
        root, runtime = scratch / "bundle", scratch / "runtime"
        runtime.mkdir()
        stand_ins = _stand_ins(model, files.values(), scratch, runtime, stand_in)
        replacement = {s.original: s.replacement for s in stand_ins}
        pattern = _as_whole_path(replacement) if replacement else None
        for relative, text in files.items():
            # One pass, so a replacement is never itself replaced.
            changed = pattern.sub(lambda match: replacement[match.group(0)], text) if pattern else text
            root.joinpath(relative).parent.mkdir(parents=True, exist_ok=True)
            root.joinpath(relative).write_text(changed, encoding="utf-8")
        yield ScratchCopy(model, root, runtime, tuple(files), tuple(stand_ins))
