"""`easel charts pull [--update]`: every chart version a profile names (any version of any profile, stacks' too),
fetched from its Repository (fetch.py) into `<charts.path>/<repository>/<chart>-<version>.tgz` (or easel's cache
with `charts.commit: false`), and each archive's digest pinned in easel.lock's `charts:`, which compiling then
holds every archive to (validate/charts.py). Compiling never uses the network; this is the one command that does.
A Git Repository's chart folder is read at a commit of its ref and packed (git.py), kept as
`<repository>/<folder name>@<ref>.tgz`, and the commit pinned beside its digest (easel.lock's `chartCommits`): the
engines then fetch that commit.

- A chart whose archive is there and is the one pinned is not fetched. A pinned chart whose archive is missing (or
  differs, or cannot be read) is fetched, and must be the pinned bytes. A chart with no pin is fetched and pinned.
  `--update` fetches every chart again and pins what the repositories serve now.
- Everything is fetched and checked before anything is written; then the archives and easel.lock are written
  together (write/files.py), or, on any error, nothing is. The pins and archives of charts no profile uses any
  more are dropped, when the repository was read without errors (so that none is dropped for a mistake).
- A Git chart pinned is read at its pinned commit (a tag must still name it, a branch still hold it); unpinned,
  or with `--update`, at the commit its ref names now. The charts of one Repository are read at one commit.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from compiler import load
from compiler.commands.chart_pull import fetch
from compiler.commands.chart_pull.git import GitCharts
from compiler.commands.chart_pull.transport import FetchError
from compiler.decide.resolve import Resolutions
from compiler.decide.resolve.types import ResolvedStack, ResolvedWorkload
from compiler.diagnostics import Diagnostics, Location
from compiler.diagnostics.errors import CommandError
from compiler.kube.names import CHART_NAME_PATTERN
from compiler.load.charts import ChartArchiveError, read_archive
from compiler.load.source import LOCK_FILE, PathOutsideRepository, Source, normalize
from compiler.model import Model, Repository
from compiler.model.charts import ChartArchive, archive_path, git_archive_path, git_commit
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
    folders: dict[Key, set[str]] = field(default_factory=dict)  # a Git chart's folder(s) in its repository
    lines: list[str] = field(default_factory=list)
    manifests: dict[Key, str] = field(default_factory=dict)  # OCI charts fetched: their manifests' digests
    commits: dict[Key, str] = field(default_factory=dict)  # Git charts fetched: the commits they were read at
    moved: dict[Key, str] = field(default_factory=dict)  # Git charts kept at their pinned commit: the branch's now


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
    folders: dict[Key, set[str]] = {}
    run = _Run(model, result.previous, dict(result.previous.charts), chart_uses(model, result.resolutions, folders),
               _folder(model, raw), update, folders=folders)
    fetcher = fetcher or fetch.Fetcher(plain_http)
    _fetch_all(run, fetcher, GitCharts(root))
    run.manifests = {key: digest for key, digest in fetcher.manifests.items() if key in run.fetched}
    if run.diagnostics.has_errors:
        return Pulled(result.texts, run.diagnostics)
    prune = not any(d.is_error and d.code not in REPAIRED for d in result.diagnostics)
    pins, removed = _pins(run, prune)
    _write(root, run, pins, removed, raw.lock_text is None)
    return Pulled(result.texts, run.diagnostics, run.lines, _summary(run, pins, removed))


def chart_uses(model: Model, resolutions: Resolutions, folders: dict[Key, set[str]] | None = None
               ) -> dict[Key, Location]:
    """Every (repository, chart, version) of a `helm-chart` component: as written in each version of each profile,
    and as resolved (a version a parameter sets) for what runs. A Git Repository's chart, (repository, its folder's
    name, the Repository's ref), as resolved (resolve gives it its version), its folder there added to folders."""
    found: dict[Key, Location] = {}
    folders = {} if folders is None else folders
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
            if helm is not None and helm.path is None:  # (an in-house chart is no repository's)
                found.setdefault(helm.key, used.loc.at("properties"))
                if helm.git_path is not None:
                    folders.setdefault(helm.key, set()).add(helm.git_path)
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


def _fetch_all(run: _Run, fetcher: fetch.Fetcher, gits: GitCharts) -> None:
    """Fetch what is to be fetched, each checked; errors and warnings in run.diagnostics."""
    for key, where in run.uses.items():
        repository = _repository(run, key, where)
        if repository is None:
            continue
        if repository.type == "git":
            _fetch_git(run, gits, key, repository, where)
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
        archive = _checked(run, key, data, where, f"chart {chart_text(key)} fetched from repository {key[0]}")
        if archive is not None:
            run.fetched[key] = archive


def _fetch_git(run: _Run, gits: GitCharts, key: Key, repository: Repository, where: Location) -> None:
    """A Git Repository's chart folder read and packed at the commit the Repository's charts are read at
    (GitCharts.commit), unless its archive is there and pinned, with its commit."""
    folders = sorted(run.folders.get(key, ()))
    if len(folders) != 1:
        run.diagnostics.error("E909", f"chart {chart_text(key)}: the folders {' and '.join(folders)} of Git "
                              f"repository {key[0]} have one name, and easel keeps a Git chart by its folder's "
                              "name at the ref", where, "rename one of the folders")
        return
    local, pin = run.model.charts.get(key), run.previous.get(key)
    if not run.update and pin is not None and local is not None and local.digest == pin \
            and git_commit(run.record.chart_manifests.get(key)) is not None:
        run.kept.append(key)
        return
    # the commit easel.lock pins for the Repository's charts at this ref (one GitRepository fetches them all)
    pinned = sorted({commit for other, value in run.record.chart_manifests.items() if other in run.uses
                     and other[::2] == key[::2] and (commit := git_commit(value)) is not None})
    said = f"chart {chart_text(key)} (folder {folders[0]} of Git repository {key[0]}, {repository.url})"
    if len(pinned) > 1 and not run.update:
        run.diagnostics.error("E110", f"{said}: easel.lock pins the repository's charts at different commits "
                              f"({', '.join(pinned)}), and the engines fetch one", where,
                              "pin them at the ref's newest commit with `easel charts pull --update`")
        return
    try:
        commit = gits.commit(repository, pinned[0] if pinned else None, run.update)
        data = gits.archive(repository, commit, folders[0])
    except FetchError as problem:
        run.diagnostics.error(problem.code, f"{said} cannot be read: {problem}", where, problem.hint)
        return
    archive = _checked(run, key, data, where, f"{said}, read at commit {commit}")
    if archive is not None:
        run.fetched[key], run.commits[key] = archive, commit
        if commit != gits.tip(repository):
            run.moved[key] = gits.tip(repository)


def _repository(run: _Run, key: Key, where: Location) -> Repository | None:
    """The chart's Repository, its names checked once more before they become a path (the schemas checked them;
    a Git chart's version is its Repository's ref, which becomes no path: model/charts.py git_archive_path)."""
    repository = run.model.repositories.get(key[0])
    patterns = _PATTERNS[:2] if repository is not None and repository.type == "git" else _PATTERNS
    if not all(pattern.fullmatch(part) and ".." not in part for pattern, part in zip(patterns, key, strict=False)):
        run.diagnostics.error("E909", f"chart {chart_text(key)!r} is not a repository, chart name and version "
                              "easel stores a chart archive under", where)
        return None
    if repository is None:
        run.diagnostics.error("E909", f"chart {chart_text(key)} names repository {key[0]!r}, which no Repository "
                              "document defines", where)
    return repository


def _checked(run: _Run, key: Key, data: bytes, where: Location, said: str) -> ChartArchive | None:
    """The fetched bytes read as a chart archive (of the chart and version asked for, but for a Git chart's,
    which its folder names), and the pinned one unless updating; None (and an error) when they are not."""
    git = key in run.folders
    path = _path(run, key)
    try:
        archive = read_archive(path, data)
    except ChartArchiveError as problem:
        run.diagnostics.error("E910", f"{said} is not a chart archive easel reads: {problem}", where)
        return None
    if not git and (archive.name, archive.version) != key[1:]:
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
            run.lines.append(_line(run, key))
        elif key in run.kept:
            commit = git_commit(run.record.chart_manifests.get(key))
            run.lines.append(f"  pinned   {chart_text(key)}  {_short(pins[key])}  (already there"
                             + (f", commit {commit[:12]})" if commit else ")"))
    run.lines += [f"  removed  {chart_text(key)}  (no profile uses it)" for key in removed]
    return dict(sorted(pins.items())), removed


def _line(run: _Run, key: Key) -> str:
    pin, digest, local = run.previous.get(key), run.fetched[key].digest, run.model.charts.get(key)
    was, commit = git_commit(run.record.chart_manifests.get(key)), run.commits.get(key)
    at = f", commit {commit[:12]}" if commit else ""
    if key in run.moved:  # a Git chart kept at its pinned commit while its branch moved on
        at += f"; branch {key[2]} is at {run.moved[key][:12]} now: `easel charts pull --update` moves the pin"
    if was is not None and commit is not None and was != commit:
        return (f"  updated  {chart_text(key)}  commit {was[:12]} -> {commit[:12]}  "
                + (f"{_short(pin)} -> {_short(digest)}" if pin and pin != digest else "(the chart unchanged)"))
    if pin is None:
        return f"  fetched  {chart_text(key)}  {_short(digest)}  (pinned{at})"
    if pin != digest:
        return f"  updated  {chart_text(key)}  {_short(pin)} -> {_short(digest)}" + (f"  ({at[2:]})" if at else "")
    if local is None or local.digest != digest:
        return f"  fetched  {chart_text(key)}  {_short(digest)}  (the pinned archive was missing or damaged{at})"
    return f"  fetched  {chart_text(key)}  {_short(digest)}  (unchanged{at})"


def _short(digest: str) -> str:
    return digest[:19]  # sha256: and 12 hex digits


def _write(root: Path, run: _Run, pins: dict[Key, str], removed: list[Key], no_lock: bool) -> None:
    """The archives fetched that differ from what is there, those of charts dropped removed, and easel.lock when
    its pins change: together, or nothing."""
    files: dict[Path, bytes] = {}
    for key, archive in run.fetched.items():
        local = run.model.charts.get(key)
        if local is None or local.digest != archive.digest:
            files[_target(root, _path(run, key))] = archive.data
    deletes = [path for path in (_target(root, _path(run, key)) for key in removed)
               if path.is_file() or path.is_symlink()]
    manifests = {key: digest for key, digest in {**run.record.chart_manifests, **run.manifests,
                                                 **run.commits}.items() if key in pins}
    if pins != run.previous or manifests != dict(run.record.chart_manifests) or (no_lock and pins):
        files[root / LOCK_FILE] = lockfile.dump(dataclasses.replace(
            run.record, charts=pins, chart_manifests=dict(sorted(manifests.items())))).encode()
    if files or deletes:
        replace_together(root, files, deletes, root / run.folder)


def _path(run: _Run, key: Key) -> str:
    """Where a chart's archive lies (read from there), or is stored: a Git Repository's chart by its folder's name
    and the ref, any other by its name and version."""
    local = run.model.charts.get(key)
    if local is not None:
        return local.file
    repository = run.model.repositories.get(key[0])
    if key in run.folders or (repository is not None and repository.type == "git"):
        return git_archive_path(run.folder, *key)
    return archive_path(run.folder, *key)


def _target(root: Path, path: str) -> Path:
    """Where a chart's archive lies, refused when a link would take it out of the repository."""
    target = root / path
    if not target.parent.resolve().is_relative_to(root.resolve()):
        raise CommandError("E911", f"{target.parent.relative_to(root)} leads outside the repository (a symbolic "
                           "link); nothing was written", hint=True)
    return target


def _summary(run: _Run, pins: dict[Key, str], removed: list[Key]) -> str:
    changed = sum(1 for key, archive in run.fetched.items()
                  if (key in run.previous and run.previous[key] != archive.digest)
                  or git_commit(run.record.chart_manifests.get(key)) not in (None, run.commits.get(key)))
    where = f"{run.folder}/" if run.model.settings.charts_commit else f"easel's cache ({run.folder}/)"
    return (f"fetched {len(run.fetched)}, already pinned {len(run.kept)}"
            + (f", {changed} pin{'s' if changed != 1 else ''} changed" if run.update else "")
            + (f", {len(removed)} removed" if removed else "")
            + f": easel.lock pins {len(pins)} chart{'s' if len(pins) != 1 else ''}, kept in {where}")
