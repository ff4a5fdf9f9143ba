"""The commands that change the repository (`compile`, `lock`, `rollout advance|rollback`) and their checks
(`compile --check`, `--locked`), and `validate`: compile, compare with easel.lock and output/, write both or say
what is stale. A run the cache can replay is replayed (replay.py); what a run prints is made in summaries.py from
the outcome; cli/ only hands it on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from compiler import load
from compiler.commands import replay, summaries
from compiler.commands.summaries import Summary, Totals, moves
from compiler.diagnostics import error
from compiler.diagnostics.errors import BadArgument
from compiler.load.source import Source
from compiler.pipeline import Request, Result, chart_proof, compile_loaded
from compiler.prove import ProvenTree
from compiler.record.lockfile import LOCK_FILE
from compiler.render import Tree
from compiler.runtime import cache, progress
from compiler.runtime.cache import Cache
from compiler.write import write
from compiler.write.compare import Changes, EarlyListing, Manifest, diff


@dataclass(frozen=True)
class Target:
    root: Path  # the repository's folder on disk
    out_dir: str | None = None  # --out: write here instead of the configured output folder
    preview: bool = False  # --out or --ref: leave the working tree's easel.lock alone


def lock_is_stale(result: Result) -> bool:
    on_disk = result.texts.get(LOCK_FILE)
    # a checkout with CRLF line ends (git's autocrlf) holds the same lock
    return (on_disk and on_disk.replace("\r\n", "\n")) != result.lock_text


def _out(target: Target, result: Result) -> Path:
    out = Path(target.out_dir) if target.out_dir else target.root / result.require_model().settings.output
    return out if out.is_absolute() else target.root / out


def _inside(path: Path, root: Path) -> bool:
    """Whether path, every symbolic link on the way followed, lies inside root."""
    try:
        real, top = path.resolve(), root.resolve()
    except (OSError, RuntimeError):
        return False
    return real == top or top in real.parents


def _leaves_repository(result: Result, root: Path) -> bool:
    """Whether the configured output folder leads outside the repository through a symbolic link (an error
    says so): a fact of the repository (its easel.yaml and its links), so `validate` checks it as `compile` does."""
    output = result.require_model().settings.output
    if _inside(root / output, root):
        return False
    result.diagnostics.add(error(
        "E802", f"the output folder {output!r} leads outside the repository (through a symbolic link): "
        f"{(root / output).resolve()}", hint="the output folder is a real folder inside the repository"))
    return True


def compile_and_write(source: Source, target: Target, request: Request = Request(), check: bool = False,
                      locked: bool = False, store: Cache = Cache(None)) -> tuple[Result, Summary | None]:
    """The result (with E803/E804 added when --check or --locked find something stale) and the summary to
    print on success."""
    progress.phase("reading the inputs")
    snapshot = load.read(source)
    replayable = request == Request() and not target.preview
    if replayable:
        key = replay.compile_key(snapshot, snapshot.lock_text, target.out_dir)
        replayed = replay.replay_compile(store, key, snapshot, check, target.root)
        if replayed is not None:
            return replayed
    early = replay.early_listing(store, target.out_dir, request, target.root) if not check else None
    try:
        return _compile(snapshot, target, request, check, locked, store, replayable, early)
    finally:
        if early is not None:
            early.close()


def _compile(snapshot: load.Snapshot, target: Target, request: Request, check: bool, locked: bool,
             store: Cache, replayable: bool, early: EarlyListing | None) -> tuple[Result, Summary | None]:
    raw, memo = replay.parsed(snapshot, store)
    # rendered as it is written (a --check compares the whole tree)
    result = compile_loaded(raw, replace(request, last_stage="render" if check else "plan"), progress, store)
    memo.write(store, replay.for_the_cache(raw, result.checked))
    update = request.update
    if update not in (None, "*") and result.model and update not in result.model.profiles:
        raise BadArgument(f"no profile {update!r}", "--update")
    if result.lock_text is None:  # errors
        return result, None
    stale = lock_is_stale(result)
    if locked and stale:
        result.diagnostics.add(error("E804", f"{LOCK_FILE} would change"
                                     + "".join(f"\n  {line}" for line in moves(result))))
        return result, None
    out = _out(target, result)
    if not target.out_dir and _leaves_repository(result, target.root):
        return result, None
    manifest = cache.read_manifest(store, out) if not target.out_dir else {}
    owns = request.shard.owns_path if request.shard else None
    if check:
        summary, found = _check(result, out, target.root, stale and not target.preview, manifest, owns)
        if replayable and not result.diagnostics.has_errors:
            replay.record_compile(store, replay.compile_key(raw, result.lock_text, target.out_dir), result,
                                  Totals.of(result), out, found.stats, target.root)
        return result, summary
    also = {target.root / LOCK_FILE: result.lock_text} if stale and not target.preview else {}
    # one transaction, the lock in it
    tree = ProvenTree(Tree(result.require_plans(), request.shard, progress), result.require_model(),
                      result.decisions, result.fleet, chart_proof(result.require_model(), store))
    changed = write(out, tree, result.diagnostics, target.root, also,
                    manifest, owns, early)
    del manifest  # the new one is in changed.stats
    if changed is None:
        return result, None
    totals = Totals.of(result, files=len(changed.stats))
    if replayable:
        replay.record_compile(store, replay.compile_key(raw, result.lock_text, target.out_dir), result, totals, out,
                              changed.stats, target.root)
    return result, summaries.compiled(totals, changed, out, target.root, result, request.shard)


def _check(result: Result, out: Path, root: Path, lock_stale: bool, manifest: Manifest,
           owns: Callable[[str], bool] | None) -> tuple[Summary, Changes]:
    found: Changes = diff(out, result.files or {}, manifest, owns)
    if lock_stale:
        result.diagnostics.add(error("E803", f"{LOCK_FILE} is not up to date with what this compile decides"
                                     + "".join(f"\n  {line}" for line in moves(result))))
    if found.any:
        listed = ([f"  added    {p}" for p in found.added] + [f"  changed  {p}" for p in found.changed]
                  + [f"  removed  {p}" for p in found.removed])
        result.diagnostics.add(error(
            "E803", f"{out} is not up to date: {len(found.added)} to add, {len(found.changed)} to change, "
            f"{len(found.removed)} to remove\n" + "\n".join(listed[:20])
            + (f"\n  … and {len(listed) - 20} more" if len(listed) > 20 else "")))
    return summaries.up_to_date(Totals.of(result), out, root, found), found


def validate(source: Source, store: Cache = Cache(None), root: Path | None = None) -> tuple[Result, Summary | None]:
    """`easel validate`: every stage that can reject the repository, as `compile` runs them, and the output
    folder's place (given the repository's folder, root), writing nothing; rendering, which reports nothing,
    is left out. Replayed from the cache when nothing it reads has changed."""
    snapshot = load.read(source)
    key = replay.validate_key(snapshot)
    replayed = replay.replay_validate(store, key, snapshot,
                                      lambda output: root is None or _inside(root / output, root))
    if replayed is not None:
        return replayed
    raw, memo = replay.parsed(snapshot, store)
    result = compile_loaded(raw, Request(last_stage="prove"), progress, store)
    memo.write(store, replay.for_the_cache(raw, result.checked))
    if result.diagnostics.has_errors or (root is not None and _leaves_repository(result, root)):
        return result, None
    summary = summaries.validated(result)
    replay.record_validate(store, key, result, summary)
    return result, summary
