"""Every target renders every example profile exactly as its golden files say.

Regenerate after a deliberate template change: SWARMDEPLOY_UPDATE_GOLDEN=1 pytest tests/test_golden.py
(the validator tests then check the new output with nginx, gixy and systemd-analyze).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import EXAMPLE_PROFILES, REPO
from swarmdeploy.profile import load_profile
from swarmdeploy.render import render_files
from swarmdeploy.targets import TARGETS, applicable_targets

GOLDEN = REPO / "tests" / "golden"


def golden_path(profile: Path, relative: str) -> Path:
    return GOLDEN / profile.stem / relative


def expected_outputs(profile: Path, target: str) -> list[str]:
    name = load_profile(profile).model["name"]
    return [f"{target}/{output.filename.format(name=name)}" for output in TARGETS[target].outputs]


def rendered_targets(profile: Path) -> list[str]:
    """The targets a plain `swarmdeploy render` of the profile writes."""
    return applicable_targets(load_profile(profile).model)


PROFILE_TARGETS = [pytest.param(profile, target, id=f"{profile.stem}-{target}")
                   for profile in EXAMPLE_PROFILES for target in rendered_targets(profile)]


@pytest.mark.parametrize(("profile", "target"), PROFILE_TARGETS)
def test_render_matches_golden(profile: Path, target: str) -> None:
    files = render_files(load_profile(profile).model, [target])
    for relative, text in files.items():
        golden = golden_path(profile, relative)
        if os.environ.get("SWARMDEPLOY_UPDATE_GOLDEN") == "1":
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text)
        assert golden.read_text() == text, f"{relative} differs from {golden}"


def test_every_target_has_golden_files_for_every_example_profile() -> None:
    assert EXAMPLE_PROFILES, "no example profiles found"
    unexampled = set(TARGETS) - {target for profile in EXAMPLE_PROFILES for target in rendered_targets(profile)}
    assert not unexampled, f"no example profile renders {', '.join(sorted(unexampled))}"
    missing = [
        str(golden_path(profile, relative))
        for profile in EXAMPLE_PROFILES
        for target in rendered_targets(profile)
        for relative in expected_outputs(profile, target)
        if not golden_path(profile, relative).is_file()
    ]
    assert not missing, "targets without golden files: " + ", ".join(missing)


def test_no_stale_golden_files() -> None:
    expected = {
        golden_path(profile, relative)
        for profile in EXAMPLE_PROFILES
        for target in rendered_targets(profile)
        for relative in expected_outputs(profile, target)
    }
    stale = sorted(str(p) for p in GOLDEN.rglob("*") if p.is_file() and p not in expected)
    assert not stale, "golden files no target renders: " + ", ".join(stale)
