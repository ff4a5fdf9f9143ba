"""The commands that change the repository (`compile`, `lock`, `rollout advance|rollback`) and their checks
(`compile --check`, `--locked`): compile, compare with easel.lock and output/, write both or say what is stale.
What they print is made here from the outcome; cli/ only hands it on."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from compiler import load
from compiler.diagnostics import Diagnostics, error
from compiler.diagnostics.errors import BadArgument
from compiler.load.source import Source
from compiler.pipeline import Request, Result, compile_loaded
from compiler.plan.shards import Shard
from compiler.record.changes import Change, changes
from compiler.record.lockfile import LOCK_FILE
from compiler.render import Tree
from compiler.runtime import cache, progress
from compiler.runtime.cache import Cache, DocumentMemo, ParsedFile
from compiler.write import write
from compiler.write.compare import Changes, EarlyListing, Manifest, diff, digest, holds_exactly

EARLY_LISTING_FILES = 20_000  # an output of this many files is walked by a second process (_early_listing)
RACY_NS = 50_000_000  # a file changed this soon after easel recorded it may keep its mtime: its content is checked


@dataclass(frozen=True)
class Target:
    root: Path  # the repository's folder on disk
    out_dir: str | None = None  # --out: write here instead of the configured output folder
    preview: bool = False  # --out or --ref: leave the working tree's easel.lock alone


MOVES_SHOWN = 30  # change lines printed; the rest are counted, so a fleet-wide move stays a short report


def moves(result: Result) -> list[str]:
    """What this compile changes in versions and in where workloads run, compared with easel.lock, and why."""
    found = [str(change) for change in changes(result.previous, result.decisions)]
    if len(found) <= MOVES_SHOWN:
        return found
    return [*found[:MOVES_SHOWN], (f"… and {len(found) - MOVES_SHOWN:,} more changes (easel explain WORKLOAD "
                                  "tells one workload's placements; easel diff lists every file)")]


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


@dataclass(frozen=True)
class Totals:
    """The counts a summary gives: kept with a run in the cache, so a replayed run says the same."""
    workloads: int
    placements: int  # (workload, cluster) pairs
    placed: int  # workloads placed on some cluster
    clusters: int
    files: int

    @classmethod
    def of(cls, result: Result, files: int | None = None) -> Totals:
        """files: how many the output holds, when the tree was written part by part (result.files is None)."""
        decided = result.decisions.workloads.values()
        return cls(len(result.model.workloads) if result.model else 0,
                   sum(len(d.clusters or ()) for d in decided if d.placement),
                   sum(1 for d in decided if d.placement and d.placement.placed), len(result.fleet),
                   len(result.files or {}) if files is None else files)

    def placements_text(self) -> str:
        return f"{counted(self.placements, 'placement')} on {counted(self.clusters, 'cluster')}"


def counted(number: int, noun: str) -> str:
    """ "1 cluster", "2 clusters" (the nouns easel counts take an s)."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


@dataclass(frozen=True)
class Summary:
    """What a run that succeeded reports: the lines it prints, and the same as data (`--format json`; the
    fields are described in docs/reference/output.md)."""
    text: str
    data: dict


def change_data(change: Change) -> dict:
    """A change as data: its kind (the class: Placed, VersionUpdated, ...), its fields (camelCase, as every
    report's), and its sentence."""
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    def plain(value):
        if isinstance(value, tuple):
            return list(value)
        return value if isinstance(value, (str, int, bool)) or value is None else str(value)

    return {"change": type(change).__name__, **{camel(k): plain(v) for k, v in vars(change).items()},
            "message": str(change)}


def _changes_data(result: Result | None) -> list[dict]:
    return [change_data(c) for c in changes(result.previous, result.decisions)] if result is not None else []


def _where(out: Path, root: Path) -> str:
    """The output folder as reports give it: relative to the repository when inside it."""
    try:
        return out.relative_to(root).as_posix()
    except ValueError:
        return str(out)


def _compiled(totals: Totals, changed: Changes, out: Path, root: Path, result: Result | None,
              shard: Shard | None = None) -> Summary:
    part = f" (shard {shard.index}/{shard.count}: {totals.files} files)" if shard else ""
    text = "\n".join([
        (f"compiled {counted(totals.workloads, 'workload')} into {totals.placements_text()}{part}: "
        f"{len(changed.added)} added, {len(changed.changed)} changed, {len(changed.removed)} removed, "
        f"{changed.unchanged} unchanged ({out})"),
        *(moves(result) if result is not None else [])])
    return Summary(text, {**vars(totals), "output": _where(out, root), "added": len(changed.added),
                          "changed": len(changed.changed), "removed": len(changed.removed),
                          "unchanged": changed.unchanged, "upToDate": not changed.any,
                          "shard": f"{shard.index}/{shard.count}" if shard else None,
                          "changes": _changes_data(result)})


def _up_to_date(totals: Totals, out: Path, root: Path, found: Changes | None = None) -> Summary:
    found = found or Changes(unchanged=totals.files)
    return Summary(f"up to date: {counted(totals.files, 'file')} for {totals.placements_text()}",
                   {**vars(totals), "output": _where(out, root), "added": len(found.added),
                    "changed": len(found.changed), "removed": len(found.removed), "unchanged": found.unchanged,
                    "upToDate": not found.any, "shard": None, "changes": []})


def _runs(store: Cache) -> dict:
    found = store.read(cache.RUNS)
    return found if isinstance(found, dict) else {}


def _keep_run(store: Cache, command: str, record: dict) -> None:
    store.write(cache.RUNS, {**_runs(store), command: record})


def _parsed(snapshot: load.Snapshot, store: Cache) -> tuple[load.RawRepo, DocumentMemo]:
    memo = DocumentMemo.read(store)
    return load.parse(snapshot, memo), memo


def _compile_key(raw: load.Snapshot | load.RawRepo, lock_text: str | None, target: Target) -> str:
    return cache.run_key("compile", raw.digests, raw.files, lock_text, target.out_dir)


def _replay(store: Cache, key: str, raw: load.Snapshot, check: bool, root: Path) -> tuple[Result, Summary] | None:
    """The outcome of the recorded compile when nothing it read has changed since and the output folder still
    holds exactly the files it left there (by size and mtime, a racily recent file by content)."""
    record = _runs(store).get("compile")
    if not isinstance(record, dict) or record.get("key") != key:
        return None
    try:
        out, totals = Path(record["out"]), Totals(**record["totals"])
        diagnostics = Diagnostics([cache.diagnostic_from(d) for d in record["diagnostics"]])
        recorded = int(record["recorded"])
    except (KeyError, TypeError, ValueError):
        return None
    progress.phase("checking the output against the cache")
    manifest = cache.read_manifest(store, out)
    if len(manifest) != totals.files or not holds_exactly(out, manifest):
        return None
    for path, (_, mtime, known) in manifest.items():
        if mtime >= recorded - RACY_NS:
            with open(out / path, "rb") as handle:
                if digest(handle.read()) != known:
                    return None
    texts = {path: data.decode("utf-8-sig") for path, data in raw.data.items()} if len(diagnostics) else {}
    result = Result({**raw.texts, **texts}, diagnostics)
    summary = _up_to_date(totals, out, root) if check else _compiled(totals, Changes(unchanged=totals.files), out,
                                                                      root, None)
    return result, summary


def _record(store: Cache, key: str, result: Result, totals: Totals, out: Path, entries: Manifest) -> None:
    """Keep this compile for the next one: the output folder now holds exactly the files of entries, and
    easel.lock result.lock_text (under which a compile decides the same again: a fixed point the tests check)."""
    recorded = time.time_ns()
    cache.write_manifest(store, out, entries)
    _keep_run(store, "compile", {"key": key, "out": str(out), "recorded": recorded,
                                 "totals": totals.__dict__,
                                 "diagnostics": [cache.diagnostic_data(d) for d in result.diagnostics]})


def _early_listing(store: Cache, target: Target, request: Request) -> EarlyListing | None:
    """The output folder the last compile wrote, walked by a second process while this one compiles: a fleet's
    compile after an edit would otherwise spend a fifth of its time on it."""
    record = _runs(store).get("compile")
    try:
        out, files = Path(record["out"]), int(record["totals"]["files"])
    except (KeyError, TypeError, ValueError):
        return None
    if target.out_dir or files < EARLY_LISTING_FILES:
        return None
    owns = request.shard.owns_path if request.shard else None
    return EarlyListing(out, lambda: cache.read_manifest(store, out), owns)


def compile_and_write(source: Source, target: Target, request: Request = Request(), check: bool = False,
                      locked: bool = False, store: Cache = Cache(None)) -> tuple[Result, Summary | None]:
    """The result (with E803/E804 added when --check or --locked find something stale) and the summary to
    print on success."""
    progress.phase("reading the inputs")
    snapshot = load.read(source)
    replayable = request == Request() and not target.preview
    if replayable:
        replayed = _replay(store, _compile_key(snapshot, snapshot.lock_text, target), snapshot, check, target.root)
        if replayed is not None:
            return replayed
    early = _early_listing(store, target, request) if not check else None
    try:
        return _compile(snapshot, target, request, check, locked, store, replayable, early)
    finally:
        if early is not None:
            early.close()


def _compile(snapshot: load.Snapshot, target: Target, request: Request, check: bool, locked: bool,
             store: Cache, replayable: bool, early: EarlyListing | None) -> tuple[Result, Summary | None]:
    raw, memo = _parsed(snapshot, store)
    result = compile_loaded(raw, replace(request, later=not check), progress)  # written as it is rendered
    memo.write(store, _for_the_cache(raw, result.checked))
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
    if not target.out_dir and not _inside(out, target.root):
        result.diagnostics.add(error(
            "E802", f"the output folder {result.model.settings.output!r} leads outside the repository (through a "
            f"symbolic link): {out.resolve()}", hint="the output folder is a real folder inside the repository"))
        return result, None
    manifest = cache.read_manifest(store, out) if not target.out_dir else {}
    owns = request.shard.owns_path if request.shard else None
    if check:
        summary, found = _check(result, out, target.root, stale and not target.preview, manifest, owns)
        if replayable and not result.diagnostics.has_errors:
            _record(store, _compile_key(raw, result.lock_text, target), result, Totals.of(result), out,
                    found.stats)
        return result, summary
    also = {target.root / LOCK_FILE: result.lock_text} if stale and not target.preview else {}
    # one transaction, the lock in it
    changed = write(out, Tree(result.plans, request.shard, progress), result.diagnostics, target.root, also,
                    manifest, owns, early)
    del manifest  # the new one is in changed.stats
    if changed is None:
        return result, None
    totals = Totals.of(result, files=len(changed.stats))
    if replayable:
        _record(store, _compile_key(raw, result.lock_text, target), result, totals, out, changed.stats)
    return result, _compiled(totals, changed, out, target.root, result, request.shard)


def _for_the_cache(raw: load.RawRepo, checked: frozenset[tuple[str, int]]) -> dict[str, ParsedFile]:
    """The files read cleanly, by digest, with the documents that passed their schema: what the next run reuses."""
    return {digest: ParsedFile(parsed.documents, frozenset(i for i, _ in parsed.documents if (path, i) in checked))
            for path, digest in raw.digests.items() if (parsed := raw.parsed.get(digest))}


def _check(result: Result, out: Path, root: Path, lock_stale: bool, manifest: Manifest,
           owns: Callable[[str], bool] | None) -> tuple[Summary, Changes]:
    found: Changes = diff(out, result.files or {}, manifest, owns)
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
    return _up_to_date(Totals.of(result), out, root, found), found


def validate(source: Source, store: Cache = Cache(None)) -> tuple[Result, Summary | None]:
    """`easel validate`: every stage but rendering; replayed from the cache when nothing it reads changed."""
    snapshot = load.read(source)
    key = cache.run_key("validate", snapshot.digests, snapshot.files, snapshot.lock_text)
    record = _runs(store).get("validate")
    if isinstance(record, dict) and record.get("key") == key:
        try:
            texts = {path: data.decode("utf-8-sig") for path, data in snapshot.data.items()}
            return Result({**snapshot.texts, **texts},
                          Diagnostics([cache.diagnostic_from(d) for d in record["diagnostics"]])), \
                Summary(str(record["summary"]), dict(record["data"]))
        except (KeyError, TypeError, ValueError):
            pass
    raw, memo = _parsed(snapshot, store)
    result = compile_loaded(raw, Request(render=False), progress)
    memo.write(store, _for_the_cache(raw, result.checked))
    if result.diagnostics.has_errors:
        return result, None
    totals = Totals.of(result)
    text = "\n".join([(f"ok: {counted(totals.workloads, 'workload')}, {totals.placed:,} placed on "
                      f"{counted(totals.clusters, 'cluster')}"),
                      *moves(result)])
    summary = Summary(text, {"workloads": totals.workloads, "placed": totals.placed,
                             "placements": totals.placements, "clusters": totals.clusters,
                             "changes": _changes_data(result)})
    _keep_run(store, "validate", {"key": key, "summary": summary.text, "data": summary.data,
                                  "diagnostics": [cache.diagnostic_data(d) for d in result.diagnostics]})
    return result, summary
