"""The commands that change the repository (`compile`, `lock`, `rollout advance|rollback`) and their checks
(`compile --check`, `--locked`): compile, compare with easel.lock and output/, write both or say what is stale.
What they print is made here from the outcome; cli.py only hands it on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .changes import changes
from .diagnostics import error
from .errors import BadArgument
from .lockfile import LOCK_FILE
from .pipeline import Request, Result, compile_repository
from .source import Source
from .write import Changes, diff, write


@dataclass(frozen=True)
class Target:
    root: Path  # the repository's folder on disk
    out_dir: str | None = None  # --out: write here instead of the configured output folder
    preview: bool = False  # --out or --ref: leave the working tree's easel.lock alone


def moves(result: Result) -> list[str]:
    """What this compile changes in versions and in where workloads run, compared with easel.lock, and why."""
    return [str(change) for change in changes(result.previous, result.decisions)]


def lock_is_stale(result: Result) -> bool:
    on_disk = result.texts.get(LOCK_FILE)
    # a checkout with CRLF line ends (git's autocrlf) holds the same lock
    return (on_disk and on_disk.replace("\r\n", "\n")) != result.lock_text


def _out(target: Target, result: Result) -> Path:
    out = Path(target.out_dir) if target.out_dir else target.root / result.model.settings.output
    return out if out.is_absolute() else target.root / out


def _inside(path: Path, root: Path) -> bool:
    """Whether path, every symbolic link on the way followed, lies inside root."""
    try:
        real, top = path.resolve(), root.resolve()
    except (OSError, RuntimeError):
        return False
    return real == top or top in real.parents


def _counts(result: Result) -> str:
    placed = sum(len(d.clusters or ()) for d in result.decisions.workloads.values() if d.placement)
    return f"{placed} placements on {len(result.fleet)} clusters"


def compile_and_write(source: Source, target: Target, request: Request = Request(), check: bool = False,
                      locked: bool = False) -> tuple[Result, str | None]:
    """The result (with E803/E804 added when --check or --locked find something stale) and the summary to
    print on success."""
    result = compile_repository(source, request)
    update = request.update
    if update not in (None, "*") and result.model and update not in result.model.profiles:
        raise BadArgument(f"no profile {update!r}", "--update")
    if result.files is None:
        return result, None
    stale = lock_is_stale(result)
    if locked and stale:
        result.diagnostics.add(error("E804", f"{LOCK_FILE} would change"
                                     + "".join(f"\n  {line}" for line in moves(result))))
        return result, None
    out = _out(target, result)
    if not target.out_dir and not _inside(out, target.root):
        result.diagnostics.add(error(
            "E802", f"the output folder {result.model.settings.output!r} leads outside the repository (through a "
            f"symbolic link): {out.resolve()}", hint="the output folder is a real folder inside the repository"))
        return result, None
    if check:
        return result, _check(result, out, stale and not target.preview)
    also = {target.root / LOCK_FILE: result.lock_text} if stale and not target.preview else {}
    changed = write(out, result.files, result.diagnostics, target.root, also)  # one transaction, the lock in it
    if changed is None:
        return result, None
    return result, "\n".join([
        f"compiled {len(result.model.workloads)} workloads into {_counts(result)}: {len(changed.added)} added, "
        f"{len(changed.changed)} changed, {len(changed.removed)} removed, {changed.unchanged} unchanged ({out})",
        *moves(result)])


def _check(result: Result, out: Path, lock_stale: bool) -> str:
    found: Changes = diff(out, result.files or {})
    if lock_stale:
        result.diagnostics.add(error("E803", f"{LOCK_FILE} is not up to date with what this compile decides "
                                     + "".join(f"\n  {line}" for line in moves(result))))
    if found.any:
        listed = ([f"  added    {p}" for p in found.added] + [f"  changed  {p}" for p in found.changed]
                  + [f"  removed  {p}" for p in found.removed])
        result.diagnostics.add(error(
            "E803", f"{out} is not up to date: {len(found.added)} to add, {len(found.changed)} to change, "
            f"{len(found.removed)} to remove\n" + "\n".join(listed[:20])
            + (f"\n  … and {len(listed) - 20} more" if len(listed) > 20 else "")))
    return f"up to date: {len(result.files or {})} files for {_counts(result)}"


def validate_summary(result: Result) -> str:
    placed = sum(1 for d in result.decisions.workloads.values() if d.placement and d.placement.placed)
    return "\n".join([f"ok: {len(result.model.workloads)} workloads, {placed} placed on {len(result.fleet)} clusters",
                      *moves(result)])
