"""diff.txt: the deployed files against what their model renders now (hand edits, or templates changed by
an upgrade of swarmdeploy), and with a PROFILE, what deploying it would change."""

from __future__ import annotations

from collections.abc import Callable

from swarmdeploy import __version__
from swarmdeploy.bundle import sha256
from swarmdeploy.deploy.plan import make_plan
from swarmdeploy.deploy.releases import Release
from swarmdeploy.diagnose.causes import HAND_EDITED
from swarmdeploy.diagnose.context import Context
from swarmdeploy.diagnose.part import Clue, Collected
from swarmdeploy.render import render_files


def collect(ctx: Context) -> Collected:
    if ctx.release is None:
        return Collected({"diff.txt": "nothing deployed: no files to compare\n"})
    edited = _edited(ctx.release)
    sections = [(f"Deployed files of release {ctx.release.id} ({ctx.release.path}) changed since the deploy "
                f"(sha256 against its manifest): {', '.join(edited) or 'none'}"),
                _compare(f"The deployed files against release {ctx.release.id}'s model rendered now "
                         "(a difference: a hand edit, or templates of another swarmdeploy version)",
                         lambda: _render_like(ctx.release), ctx.release)]
    if ctx.profile_model:
        sections.append(_compare(f"What deploying {ctx.profile} would change", lambda: render_files(ctx.profile_model),
                                 ctx.release))
    clues = []
    if edited:
        clues.append(Clue(f"deployed files were edited since release {ctx.release.id}: {', '.join(edited)}",
                          HAND_EDITED, f"put the change in the profile and deploy it ({ctx.command('deploy', 'PROFILE')}"
                          ", --force to restore the same release)", "diff.txt"))
    return Collected({"diff.txt": "\n\n".join(sections) + "\n"}, clues)


def _edited(release: Release) -> list[str]:
    changed = []
    for relative, digest in release.files().items():
        try:
            same = sha256((release.path / relative).read_bytes()) == digest
        except OSError:
            same = False
        if not same:
            changed.append(relative)
    return changed


def _render_like(release: Release) -> dict[str, str]:
    """The release's model rendered into the targets the release has (a newer swarmdeploy may have more)."""
    return render_files(release.model, sorted({relative.split("/")[0] for relative in release.files()}))


def _compare(title: str, render: Callable[[], dict[str, str]], release: Release) -> str:
    try:
        plan = make_plan(render(), release)
    except OSError as error:
        return f"{title}:\n  could not compare: {error}"
    except Exception as error:  # noqa: BLE001 - a model of another swarmdeploy version may lack what templates read
        return f"{title}:\n  could not render it with swarmdeploy {__version__}: {type(error).__name__}: {error}"
    return f"{title}:\n  " + plan.describe().replace("\n", "\n  ") if not plan.empty else f"{title}:\n  no difference"
