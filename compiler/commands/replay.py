"""What the cache keeps of runs, and the runs it replays: a compile or a validate whose inputs have not changed
since says what it said then without compiling again (a compile only while the output folder still holds exactly
the files it left there). Also the parsed files a run leaves for the next, and the output folder the last compile
wrote, walked early by a second process. The cache is never a source of truth: whatever it cannot vouch for is
compiled again."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from compiler import load
from compiler.commands import summaries
from compiler.commands.summaries import Summary, Totals
from compiler.diagnostics import Diagnostics
from compiler.pipeline import Request, Result
from compiler.runtime import cache, helm, progress
from compiler.runtime.cache import Cache, DocumentMemo, ParsedFile
from compiler.write.compare import Changes, EarlyListing, Stats, digest, holds_exactly

EARLY_LISTING_FILES = 20_000  # an output of this many files is walked by a second process (early_listing)
RACY_NS = 50_000_000  # a file changed this soon after easel recorded it may keep its mtime: its content is checked


def _runs(store: Cache) -> dict:
    found = store.read(cache.RUNS)
    return found if isinstance(found, dict) else {}


def _keep_run(store: Cache, command: str, record: dict) -> None:
    store.write(cache.RUNS, {**_runs(store), command: record})


def parsed(snapshot: load.Snapshot, store: Cache) -> tuple[load.RawRepo, DocumentMemo]:
    """The repository parsed, reusing the documents of files the cache has parsed before (by digest)."""
    memo = DocumentMemo.read(store)
    return load.parse(snapshot, memo), memo


def for_the_cache(raw: load.RawRepo, checked: frozenset[tuple[str, int]]) -> dict[str, ParsedFile]:
    """The files read cleanly, by digest, with the documents that passed their schema: what the next run reuses."""
    return {digest: ParsedFile(parsed.documents, frozenset(i for i, _ in parsed.documents if (path, i) in checked))
            for path, digest in raw.digests.items() if (parsed := raw.parsed.get(digest))}


def compile_key(raw: load.Snapshot | load.RawRepo, lock_text: str | None, out_dir: str | None) -> str:
    return cache.run_key("compile", {**raw.digests, **_charts(raw)}, raw.files, lock_text, out_dir, helm.version())


def _charts(raw: load.Snapshot | load.RawRepo) -> dict[str, str]:
    """The digests of the chart archives and of kustomize folders' other files: they, and which Helm engine is there
    to prove them, decide a run too."""
    folders = {path: "sha256:" + cache.content_digest(data) for path, data in raw.folder_files.items()}
    if isinstance(raw, load.Snapshot):
        return {**folders, **{path: "sha256:" + cache.content_digest(data) for path, data in raw.charts.items()}}
    # in-house charts packed: their folders count
    return {**folders, **{archive.file: archive.digest for archive in raw.charts}}


def replay_compile(store: Cache, key: str, raw: load.Snapshot, check: bool, root: Path
                   ) -> tuple[Result, Summary] | None:
    """The outcome of the recorded compile when nothing it read has changed since and the output folder still
    holds exactly the files it left there (by size and mtime, a racily recent file by content)."""
    record = _recorded(store, root)
    if record is None or record.get("key") != key:
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
    summary = (summaries.up_to_date(totals, out, root) if check
               else summaries.compiled(totals, Changes(unchanged=totals.files), out, root, None))
    return result, summary


def _recorded(store: Cache, root: Path) -> dict | None:
    """The compile the cache recorded, if it was of this repository: a repository copied with its .easel-cache/
    holds the record of the one it was copied from, whose output folder is not this one's."""
    record = _runs(store).get("compile")
    return record if isinstance(record, dict) and record.get("root") == str(root) else None


def record_compile(store: Cache, key: str, result: Result, totals: Totals, out: Path, entries: Stats,
                   root: Path) -> None:
    """Keep this compile for the next one: the output folder now holds exactly the files of entries, and
    easel.lock result.lock_text (under which a compile decides the same again: a fixed point the tests check)."""
    recorded = time.time_ns()
    cache.write_manifest(store, out, entries, entries.packed)
    _keep_run(store, "compile", {"key": key, "root": str(root), "out": str(out), "recorded": recorded,
                                 "totals": totals.__dict__,
                                 "diagnostics": [cache.diagnostic_data(d) for d in result.diagnostics]})


def early_listing(store: Cache, out_dir: str | None, request: Request, root: Path) -> EarlyListing | None:
    """The output folder the last compile of this repository wrote, walked by a second process while this one
    compiles: a fleet's compile after an edit would otherwise spend a fifth of its time on it."""
    record = _recorded(store, root)
    if record is None:
        return None
    try:
        out, files = Path(record["out"]), int(record["totals"]["files"])
    except (KeyError, TypeError, ValueError):
        return None
    if out_dir or files < EARLY_LISTING_FILES:
        return None
    owns = request.shard.owns_path if request.shard else None
    return EarlyListing(out, lambda: cache.read_manifest(store, out), owns)


def validate_key(snapshot: load.Snapshot) -> str:
    return cache.run_key("validate", {**snapshot.digests, **_charts(snapshot)}, snapshot.files, snapshot.lock_text,
                         helm.version())


def replay_validate(store: Cache, key: str, snapshot: load.Snapshot, output_inside: Callable[[str], bool]
                    ) -> tuple[Result, Summary] | None:
    """The outcome of the recorded validate when nothing it read has changed since and its output folder still
    lies inside the repository (output_inside: a symbolic link on its way is no input, so the key cannot say)."""
    record = _runs(store).get("validate")
    if not isinstance(record, dict) or record.get("key") != key:
        return None
    try:
        if not output_inside(str(record["output"])):
            return None
        texts = {path: data.decode("utf-8-sig") for path, data in snapshot.data.items()}
        return (Result({**snapshot.texts, **texts},
                       Diagnostics([cache.diagnostic_from(d) for d in record["diagnostics"]])),
                Summary(str(record["summary"]), dict(record["data"])))
    except (KeyError, TypeError, ValueError):
        return None


def record_validate(store: Cache, key: str, result: Result, summary: Summary) -> None:
    _keep_run(store, "validate", {"key": key, "summary": summary.text, "data": summary.data,
                                  "output": result.require_model().settings.output,
                                  "diagnostics": [cache.diagnostic_data(d) for d in result.diagnostics]})
