"""Render targets from a resolved model into files, and write them as a bundle."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from swarmdeploy.bundle import manifest, write_bundle
from swarmdeploy.errors import UsageError
from swarmdeploy.findings import Finding
from swarmdeploy.model import Model
from swarmdeploy.profile import load_profile
from swarmdeploy.targets import TARGETS, applicable_targets
from swarmdeploy.templating import render_template


@dataclass(frozen=True)
class RenderResult:
    directory: Path
    files: dict[str, str]  # bundle-relative path -> content
    warnings: list[Finding]


def render_files(model: Model, targets: list[str] | None = None) -> dict[str, str]:
    """Every file of the chosen targets (every one that applies by default), keyed by bundle-relative path."""
    chosen = targets or applicable_targets(model)
    unknown = [t for t in chosen if t not in TARGETS]
    if unknown:
        raise UsageError(f"unknown target {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    for name in chosen:
        if not TARGETS[name].applies_to(model):
            raise UsageError(f"the {name} target needs {TARGETS[name].requirement} in the profile; "
                             f"this profile renders {', '.join(applicable_targets(model))}")
    files = {}
    for target_name in chosen:
        for output in TARGETS[target_name].outputs:
            relative = f"{target_name}/{output.filename.format(name=model['name'])}"
            files[relative] = render_template(output.template, model)
    return files


def default_output_dir(profile_path: Path) -> Path:
    """build/<profile file stem>, so prod.yaml and dev.yaml of one app never overwrite each other."""
    return Path("build") / profile_path.stem


def render_profile(profile_path: Path, output: Path | None = None, targets: list[str] | None = None,
                   force: bool = False) -> RenderResult:
    """Never into the profile's own folder or one holding it: replacing that would delete the profile."""
    profile = load_profile(profile_path)
    files = render_files(profile.model, targets)
    directory = output or default_output_dir(profile_path)
    write_bundle(directory, files, manifest(files, profile.model, profile_path.name), force=force, keep=[profile_path])
    return RenderResult(directory, files, profile.warnings)
