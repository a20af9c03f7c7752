"""Export a profile for another tool, written atomically as render writes a bundle (with manifest.json)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from swarmdeploy.bundle import manifest, write_bundle
from swarmdeploy.errors import UsageError
from swarmdeploy.export.registry import EXPORTERS
from swarmdeploy.findings import Finding
from swarmdeploy.profile import load_profile


@dataclass(frozen=True)
class ExportResult:
    directory: Path
    files: dict[str, str]  # export-relative path -> content
    warnings: list[Finding]


def default_output_dir(profile_path: Path, exporter: str) -> Path:
    """build/<profile file stem>-<exporter>: beside the render bundle build/<stem>, which a render replaces whole."""
    return Path("build") / f"{profile_path.stem}-{exporter}"


def export_profile(exporter: str, profile_path: Path, output: Path | None = None, force: bool = False) -> ExportResult:
    """Never into the profile's own folder or one holding it, as render: replacing that would delete the profile."""
    if exporter not in EXPORTERS:
        raise UsageError(f"unknown export {exporter}; choose from {', '.join(EXPORTERS)}")
    chosen = EXPORTERS[exporter]
    profile = load_profile(profile_path)
    if not chosen.applies_to(profile.model):
        raise UsageError(f"export {exporter} needs {chosen.requirement} in the profile")
    files = chosen.files(profile.model)
    directory = output or default_output_dir(profile_path, exporter)
    write_bundle(directory, files, manifest(files, profile.model, profile_path.name), force=force,
                 keep=[profile_path])
    return ExportResult(directory, files, profile.warnings)
