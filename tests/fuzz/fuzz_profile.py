"""Coverage-guided fuzz target (atheris, libFuzzer): any bytes, as a profile file, end to end.

Each input is checked as `swarmdeploy validate` checks a file, with libyaml's parser and with
PyYAML's own (the fallback where PyYAML lacks libyaml), and a profile that validates is rendered
to every target that applies. A crash is any exception, a finding that is not exactly two
lines free of control characters, or a finding outside the file. Run it with `scripts/fuzz [SECONDS]`.
"""

from __future__ import annotations

import re
import sys
import tempfile
import unicodedata
from pathlib import Path

import atheris

# PyYAML's own parser is instrumented too: its branches guide the fuzzer through YAML syntax.
with atheris.instrument_imports(include=["swarmdeploy", "yaml"]):
    import yaml

    from swarmdeploy import yaml_source
    from swarmdeploy.profile import check_profile, load_profile
    from swarmdeploy.render import render_files

PARSERS = [getattr(yaml, "CBaseLoader", yaml.BaseLoader), yaml.BaseLoader]
# libFuzzer ends the process without Python's clean-up: scripts/fuzz points TMPDIR at a directory it removes.
PROFILE = Path(tempfile.mkdtemp(prefix="swarmdeploy-fuzz-")) / "profile.yaml"


# What would let a profile forge or hide output on a terminal, defined apart from findings.py's own list.
_BIDI_CONTROLS = {"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # as YAML counts lines


def _unsafe(char: str) -> bool:
    return (unicodedata.category(char) in ("Cc", "Zl", "Zp") or unicodedata.bidirectional(char) in _BIDI_CONTROLS
            or char in "\u200e\u200f\u061c")


def _check(data: bytes) -> None:
    _, findings = check_profile(PROFILE)
    for finding in findings:
        first, second = finding.format().split("\n")  # exactly two lines
        assert not any(map(_unsafe, first + second)), repr(first + second)
        lines = len(_LINE_BREAK.split(data.decode("utf-8", "replace")))
        assert 1 <= finding.line <= lines and finding.column >= 1, first
    if not any(f.severity == "error" for f in findings):
        render_files(load_profile(PROFILE).model)


def fuzz_one_input(data: bytes) -> None:
    PROFILE.write_bytes(data)
    for parser in PARSERS:
        yaml_source._PARSER = parser
        _check(data)


if __name__ == "__main__":
    atheris.Setup(sys.argv, fuzz_one_input)
    atheris.Fuzz()
