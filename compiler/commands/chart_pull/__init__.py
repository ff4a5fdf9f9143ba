"""`easel charts pull [--update]`: every chart version a profile names (any version of any profile, stacks' too),
fetched from its Repository (fetch.py) into `<charts.path>/<repository>/<chart>-<version>.tgz` (or easel's cache
with `charts.commit: false`), and each archive's digest pinned in easel.lock's `charts:`, which compiling then
holds every archive to (validate/charts.py). Compiling never uses the network; this is the one command that does.

- A chart whose archive is there and is the one pinned is not fetched. A pinned chart whose archive is missing (or
  differs, or cannot be read) is fetched, and must be the pinned bytes. A chart with no pin is fetched and pinned.
  `--update` fetches every chart again and pins what the repositories serve now.
- Everything is fetched and checked before anything is written; then the archives and easel.lock are written
  together (write/files.py), or, on any error, nothing is. The pins and archives of charts no profile uses any
  more are dropped, when the repository was read without errors (so that none is dropped for a mistake).
- Charts from Git repositories are not fetched yet (W109).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from compiler import load
from compiler.commands.chart_pull import fetch
from compiler.commands.chart_pull.transport import FetchError
from compiler.decide.resolve import Resolutions
from compiler.decide.resolve.types import ResolvedStack, ResolvedWorkload
from compiler.diagnostics import Diagnostics, Location
from compiler.diagnostics.errors import CommandError
from compiler.kube.names import CHART_NAME_PATTERN
from compiler.load.charts import ChartArchiveError, read_archive
from compiler.load.source import LOCK_FILE, PathOutsideRepository, Source, normalize
from compiler.model import Model, Repository
from compiler.model.charts import ChartArchive, archive_path
from compiler.pipeline import Request, compile_loaded
from compiler.record import lockfile
from compiler.record.decisions import Decisions
from compiler.record.lockfile import chart_text
from compiler.schemas.blocks import CHART_VERSION_PATTERN, DNS_LABEL
from compiler.write.files import replace_together

Key = tuple[str, str, str]  # (repository, chart, version)
REPAIRED = ("E109", "E110")  # what pulling mends: an archive unreadable, or not the one pinned
_PATTERNS = (re.compile(DNS_LABEL), re.compile(CHART_NAME_PATTERN), re.compile(CHART_VERSION_PATTERN))


@dataclass
class Pulled:
    """What a pull did: the diagnostics (with the texts to place them), a line per chart, and a summary."""
    texts: dict[str, str]
    diagnostics: Diagnostics
    lines: list[str] = field(default_factory=list)
    summary: str = ""


@dataclass
class _Run:
    """One pull's state: what the repository says, and what was fetched."""
    model: Model
    record: Decisions  # easel.lock as read
    previous: dict[Key, str]  # its pins
    uses: dict[Key, Location]  # every chart version a profile names, where (the first place) it does
    folder: str
    update: bool
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    fetched: dict[Key, ChartArchive] = field(default_factory=dict)
    kept: list[Key] = field(default_factory=list)  # there and pinned: not fetched
    skipped: list[Key] = field(default_factory=list)  # from Git repositories: not fetched yet
    lines: list[str] = field(default_factory=list)
    manifests: dict[Key, str] = field(default_factory=dict)  # OCI charts fetched: their manifests' digests


def pull(root: Path, source: Source, update: bool = False, plain_http: bool = False,
         fetcher: fetch.Fetcher | None = None) -> Pulled:
    """Fetch and pin every chart archive the profiles use (see the module's doc). Raises CommandError when
    charts.path cannot hold them, or they cannot be written."""
    raw = load.load(source)
    result = compile_loaded(raw, Request(last_stage="decide"))
    blocking = [d for d in result.diagnostics if d.is_error and d.code not in REPAIRED and d.code[1] in "123"]
    if blocking:  # the profiles and repositories are not known for sure
        return Pulled(result.texts, Diagnostics(blocking))
    model = result.require_model()
    run = _Run(model, result.previous, dict(result.previous.charts), chart_uses(model, result.resolutions),
               _folder(model, raw), update)
    fetcher = fetcher or fetch.Fetcher(plain_http)
    _fetch_all(run, fetcher)
    run.manifests = {key: digest for key, digest in fetcher.manifests.items() if key in run.fetched}
    if run.diagnostics.has_errors:
        return Pulled(result.texts, run.diagnostics)
    prune = not any(d.is_error and d.code not in REPAIRED for d in result.diagnostics)
    pins, removed = _pins(run, prune)
    _write(root, run, pins, removed, raw.lock_text is None)
    return Pulled(result.texts, run.diagnostics, run.lines, _summary(run, pins, removed))


def chart_uses(model: Model, resolutions: Resolutions) -> dict[Key, Location]:
    """Every (repository, chart, version) of a `helm-chart` component: as written in each version of each profile,
    and as resolved (a version a parameter sets) for what runs."""
    found: dict[Key, Location] = {}
    for _, versions in sorted(model.profiles.items()):
        for _, profile in sorted(versions.items()):
            for component in profile.components:
                props = component.properties
                key = tuple(props.get(name) for name in ("repository", "chart", "version"))
                if component.type == "helm-chart" and all(isinstance(v, str) and "{{" not in v for v in key):
                    found.setdefault(key, component.loc.at("properties"))  # type: ignore[arg-type]
    resolved: list[ResolvedWorkload | ResolvedStack] = [*resolutions.workloads.values(),
                                                        *resolutions.under_dra.values(), *resolutions.stacks.values()]
    for release in resolved:
        for used in release.components:
            helm = used.output.helm
            if helm is not None:
                found.setdefault((helm.repository, helm.chart, helm.version), used.loc.at("properties"))
    return dict(sorted(found.items()))


def _folder(model: Model, raw: load.RawRepo) -> str:
    """Where the archives go: the folder compiling reads them from, refused when it is no place for them."""
    if not model.settings.charts_commit:
        return raw.charts_folder
    try:
        folder = normalize(model.settings.charts_path)
    except PathOutsideRepository:
        folder = None
    if not folder:
        raise CommandError("E911", f"charts.path {model.settings.charts_path!r} is not a folder inside the "
                           "repository; nothing was fetched", hint=True)
    try:
        output = normalize(model.settings.output)
    except PathOutsideRepository:
        return folder  # not an output folder easel writes (compile says why)
    if folder == output or folder.startswith(f"{output}/"):
        raise CommandError("E911", f"charts.path {folder!r} is inside the output folder {output!r}, which easel "
                           "makes hold only what it compiles; nothing was fetched", hint=True)
    return folder


def _fetch_all(run: _Run, fetcher: fetch.Fetcher) -> None:
    """Fetch what is to be fetched, each checked; errors and warnings in run.diagnostics."""
    for key, where in run.uses.items():
        repository = _repository(run, key, where)
        if repository is None:
            continue
        if repository.type == "git":
            run.diagnostics.warning("W109", f"chart {chart_text(key)} comes from Git repository {key[0]!r}, which "
                                    "easel does not fetch charts from yet", where)
            run.skipped.append(key)
            continue
        local, pin = run.model.charts.get(key), run.previous.get(key)
        unpinned_manifest = repository.type == "oci" and key not in run.record.chart_manifests
        if not run.update and pin is not None and local is not None and local.digest == pin \
                and not unpinned_manifest:
            run.kept.append(key)
            continue
        try:
            data = fetcher.fetch(repository, key[1], key[2])
        except FetchError as problem:
            run.diagnostics.error(problem.code, f"chart {chart_text(key)} cannot be fetched from repository "
                                  f"{key[0]} ({repository.url}): {problem}", where)
            continue
        archive = _checked(run, key, data, where)
        if archive is not None:
            run.fetched[key] = archive


def _repository(run: _Run, key: Key, where: Location) -> Repository | None:
    """The chart's Repository, its names checked once more before they become a path (the schemas checked them)."""
    if not all(pattern.fullmatch(part) and ".." not in part for pattern, part in zip(_PATTERNS, key, strict=True)):
        run.diagnostics.error("E909", f"chart {chart_text(key)!r} is not a repository, chart name and version "
                              "easel stores a chart archive under", where)
        return None
    repository = run.model.repositories.get(key[0])
    if repository is None:
        run.diagnostics.error("E909", f"chart {chart_text(key)} names repository {key[0]!r}, which no Repository "
                              "document defines", where)
    return repository


def _checked(run: _Run, key: Key, data: bytes, where: Location) -> ChartArchive | None:
    """The fetched bytes read as a chart archive of the chart and version asked for, and the pinned one unless
    updating; None (and an error) when they are not."""
    path = archive_path(run.folder, *key)
    said = f"chart {chart_text(key)} fetched from repository {key[0]}"
    try:
        archive = read_archive(path, data)
    except ChartArchiveError as problem:
        run.diagnostics.error("E910", f"{said} is not a chart archive easel reads: {problem}", where)
        return None
    if (archive.name, archive.version) != key[1:]:
        run.diagnostics.error("E910", f"{said} holds chart {archive.name} {archive.version}", where)
        return None
    pin = run.previous.get(key)
    if pin is not None and pin != archive.digest and not run.update:
        run.diagnostics.error("E110", f"{said} is not the archive easel.lock pins: the repository now serves "
                              f"{archive.digest}, pinned {pin}", where,
                              "a published chart version never changes: if the new archive is meant, pin it with "
                              "`easel charts pull --update` and review the change; else ask its publisher why")
        return None
    return archive


def _pins(run: _Run, prune: bool) -> tuple[dict[Key, str], list[Key]]:
    """easel.lock's pins after the pull, and the charts whose pins and archives are dropped: no profile uses them
    (an archive in the folder that nothing pins and no profile uses too: the folder holds what the profiles use)."""
    pins = dict(run.previous)
    pins.update({key: archive.digest for key, archive in run.fetched.items()})
    removed = sorted(key for key in {*pins, *run.model.charts} if key not in run.uses) if prune else []
    for key in removed:
        pins.pop(key, None)
    for key in run.uses:
        if key in run.fetched:
            run.lines.append(_line(key, run.previous.get(key), run.fetched[key].digest, run.model.charts.get(key)))
        elif key in run.kept:
            run.lines.append(f"  pinned   {chart_text(key)}  {_short(pins[key])}  (already there)")
        elif key in run.skipped:
            run.lines.append(f"  skipped  {chart_text(key)}  (a Git repository: not fetched)")
    run.lines += [f"  removed  {chart_text(key)}  (no profile uses it)" for key in removed]
    return dict(sorted(pins.items())), removed


def _line(key: Key, pin: str | None, digest: str, local: ChartArchive | None) -> str:
    if pin is None:
        return f"  fetched  {chart_text(key)}  {_short(digest)}  (pinned)"
    if pin != digest:
        return f"  updated  {chart_text(key)}  {_short(pin)} -> {_short(digest)}"
    if local is None or local.digest != digest:
        return f"  fetched  {chart_text(key)}  {_short(digest)}  (the pinned archive was missing or damaged)"
    return f"  fetched  {chart_text(key)}  {_short(digest)}  (unchanged)"


def _short(digest: str) -> str:
    return digest[:19]  # sha256: and 12 hex digits


def _write(root: Path, run: _Run, pins: dict[Key, str], removed: list[Key], no_lock: bool) -> None:
    """The archives fetched that differ from what is there, those of charts dropped removed, and easel.lock when
    its pins change: together, or nothing."""
    files: dict[Path, bytes] = {}
    for key, archive in run.fetched.items():
        local = run.model.charts.get(key)
        if local is None or local.digest != archive.digest:
            files[_target(root, run.folder, key)] = archive.data
    deletes = [path for path in (_target(root, run.folder, key) for key in removed)
               if path.is_file() or path.is_symlink()]
    manifests = {key: digest for key, digest in {**run.record.chart_manifests, **run.manifests}.items()
                 if key in pins}
    if pins != run.previous or manifests != dict(run.record.chart_manifests) or (no_lock and pins):
        files[root / LOCK_FILE] = lockfile.dump(dataclasses.replace(
            run.record, charts=pins, chart_manifests=dict(sorted(manifests.items())))).encode()
    if files or deletes:
        replace_together(root, files, deletes, root / run.folder)


def _target(root: Path, folder: str, key: Key) -> Path:
    """Where a chart's archive lies, refused when a link would take it out of the repository."""
    path = root / archive_path(folder, *key)
    if not path.parent.resolve().is_relative_to(root.resolve()):
        raise CommandError("E911", f"{path.parent.relative_to(root)} leads outside the repository (a symbolic "
                           "link); nothing was written", hint=True)
    return path


def _summary(run: _Run, pins: dict[Key, str], removed: list[Key]) -> str:
    changed = sum(1 for key, archive in run.fetched.items()
                  if key in run.previous and run.previous[key] != archive.digest)
    where = f"{run.folder}/" if run.model.settings.charts_commit else f"easel's cache ({run.folder}/)"
    return (f"fetched {len(run.fetched)}, already pinned {len(run.kept)}"
            + (f", {changed} pin{'s' if changed != 1 else ''} changed" if run.update else "")
            + (f", {len(removed)} removed" if removed else "")
            + f": easel.lock pins {len(pins)} chart{'s' if len(pins) != 1 else ''}, kept in {where}")
