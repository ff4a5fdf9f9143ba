"""Stage 1, load: read easel.yaml and every YAML file under the input folders. The only stage that reads.

Returns raw documents (plain data with their Location) and the text of each file, which is kept for printing
code positions later. Nothing here knows the kinds; validate/ does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from compiler.diagnostics import Diagnostic, Diagnostics, Location, Note
from compiler.load import charts, limits, yamlio
from compiler.load.source import LOCK_FILE, YAML_SUFFIXES, PathOutsideRepository, Source, normalize
from compiler.model.charts import ChartArchive
from compiler.model.folders import KUSTOMIZATION_FILES
from compiler.runtime import parallel
from compiler.runtime.cache import DocumentMemo, ParsedFile, content_digest
from compiler.runtime.state import CACHE

SETTINGS_FILE = "easel.yaml"
DEFAULT_INPUTS = ("profiles", "environments", "clusters", "workloads")
_PROBLEM_CODES = {"syntax": "E101", "alias": "E103", "duplicate": "E104", "tag": "E107", "limit": "E111"}


@dataclass(frozen=True)
class RawDocument:
    file: str
    index: int
    data: Any
    loc: Location
    checked: bool = False  # known (from the cache) to pass its kind's schema


@dataclass
class RawRepo:
    settings: RawDocument | None
    documents: list[RawDocument]
    texts: dict[str, str]  # path -> text of every YAML file read
    files: list[str]  # every file under the input folders (YAML or not)
    inputs: tuple[str, ...]
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    lock_text: str | None = None  # easel.lock, when there is one
    digests: dict[str, str] = field(default_factory=dict)  # YAML file -> digest of its bytes
    parsed: dict[str, ParsedFile] = field(default_factory=dict)  # digest -> its documents, for files read cleanly
    charts: list[ChartArchive] = field(default_factory=list)  # the chart archives read cleanly
    charts_folder: str = "charts"  # where they were read: charts.path, or easel's cache with `charts.commit: false`
    folder_files: dict[str, bytes] = field(default_factory=dict)  # kustomize folders' files that are not YAML


@dataclass
class Snapshot:
    """Every input file's bytes, read before any is parsed: their digests say whether the cache holds the whole
    outcome of a run (cache.py), and then nothing is parsed at all."""
    settings: RawDocument | None
    inputs: tuple[str, ...]
    files: list[str]  # every file under the input folders (YAML or not), sorted
    data: dict[str, bytes]  # YAML file -> bytes, in reading order (easel.yaml first)
    digests: dict[str, str]  # YAML file -> digest of its bytes
    texts: dict[str, str]
    diagnostics: Diagnostics
    lock_text: str | None = None
    charts: dict[str, bytes] = field(default_factory=dict)  # chart archive (or in-house chart folder) -> its bytes
    charts_folder: str = "charts"  # where they were read: charts.path, or easel's cache with `charts.commit: false`
    in_house: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)  # in-house chart -> its texts
    # the files below a folder holding a kustomization that are not YAML (a generator's .env, a JSON patch): a
    # cluster's tree carries the folder (model/folders.py), so they are read too
    folder_files: dict[str, bytes] = field(default_factory=dict)


class _Reader:
    """Reads YAML files, reusing the parsed documents of a file whose bytes are known (cache.py)."""

    def __init__(self, texts: dict[str, str], diagnostics: Diagnostics, memo: DocumentMemo | None):
        self.texts, self.diagnostics, self.memo = texts, diagnostics, memo
        self.parsed: dict[str, ParsedFile] = {}

    def known(self, digest: str) -> bool:
        return bool(self.memo) and digest in self.memo.known  # type: ignore[union-attr]

    def parse(self, path: str, data: bytes, digest: str, ready: _Parsed | None = None) -> list[RawDocument]:
        """ready: the file as parsed already (by the second process of a large load)."""
        known = self.memo.known.get(digest) if self.memo else None
        if known is not None:
            self.texts[path] = data.decode("utf-8-sig")
            self.parsed[digest] = known
            return [RawDocument(path, index, value, Location(path, index), index in known.checked)
                    for index, value in known.documents]
        text, documents, problems = ready or _parse_file(path, data)
        if text is not None:
            self.texts[path] = text
        self.diagnostics.extend(problems)
        if not problems:
            self.parsed[digest] = ParsedFile(tuple((d.index, d.data) for d in documents))
        return documents


_Parsed = tuple[str | None, list[RawDocument], list[Diagnostic]]  # the text, the documents, the problems
PARALLEL_FILES = 2_000  # files to parse past which a second process parses half of them (where fork exists)


def _parse_file(path: str, data: bytes) -> _Parsed:
    texts: dict[str, str] = {}
    diagnostics = Diagnostics()
    documents = _read_yaml(path, data, texts, diagnostics)
    return texts.get(path), documents, list(diagnostics)


def _parse_in_two(files: list[tuple[str, bytes]]) -> dict[str, _Parsed]:
    """Half of the files parsed by a forked process while this one parses nothing (the caller parses the other
    half as usual): parsing is most of a cold load, and a fleet has thousands of files. Anything amiss in the
    child (it died, it ran out of memory) leaves its half to be parsed here."""
    theirs = parallel.Share(lambda: {path: _parse_file(path, data) for path, data in files[1::2]})
    mine = {path: _parse_file(path, data) for path, data in files[0::2]}
    found = theirs.result()
    return {**mine, **(found if isinstance(found, dict) else {})}


def _fetch(source: Source, path: str, diagnostics: Diagnostics) -> bytes | None:
    try:
        return source.read(path)
    except PathOutsideRepository:
        diagnostics.error("E106", f"{path} points outside the repository", Location(path))
    except OSError as exc:
        diagnostics.error("E105", f"cannot read {path}: {exc.strerror or exc}", Location(path))
    return None


def _read_yaml(path: str, data: bytes, texts: dict[str, str], diagnostics: Diagnostics) -> list[RawDocument]:
    too_much = limits.file_problem(data)
    if too_much is not None:
        diagnostics.error("E111", too_much[0], Location(path, line=too_much[1], column=1))
        return []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        diagnostics.error("E105", f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x})",
                          Location(path, line=line, column=column), "save the file as UTF-8")
        return []
    texts[path] = text
    parsed, problems = yamlio.parse(text)
    for problem in problems:
        diagnostics.error(_PROBLEM_CODES[problem.kind], problem.message,
                          Location(path, problem.doc, line=problem.line, column=problem.column),
                          notes=[Note(message, Location(path, problem.doc, line=line, column=column))
                                 for message, line, column in problem.notes])
    if not problems and all(doc.data is None for doc in parsed):
        diagnostics.warning("W113", "this file holds no document: it is empty or holds only comments",
                            Location(path, line=1, column=1))
    documents = []
    for doc in parsed:
        if doc.data is None:  # an empty document, e.g. after a trailing '---'
            continue
        loc = Location(path, doc.index)
        if not isinstance(doc.data, dict):
            kind = "a list" if isinstance(doc.data, list) else "a single value"
            diagnostics.error("E102", f"this document is {kind}, not a mapping", loc)
            continue
        documents.append(RawDocument(path, doc.index, doc.data, loc))
    return documents


def _inputs_from(settings: RawDocument | None) -> tuple[str, ...]:
    spec = settings.data.get("spec") if settings else None
    inputs = spec.get("inputs") if isinstance(spec, dict) else None
    if isinstance(inputs, list) and all(isinstance(i, str) and i for i in inputs):
        return tuple(inputs)
    return DEFAULT_INPUTS


def load(source: Source, memo: DocumentMemo | None = None) -> RawRepo:
    """memo: parsed files by digest, from the cache."""
    return parse(read(source), memo)


def read(source: Source) -> Snapshot:
    """Read every input file (and easel.yaml, parsed: it names the input folders)."""
    diagnostics = Diagnostics()
    texts: dict[str, str] = {}
    data: dict[str, bytes] = {}
    settings = None
    if source.is_file(SETTINGS_FILE):
        raw = _fetch(source, SETTINGS_FILE, diagnostics)
        if raw is not None:
            data[SETTINGS_FILE] = raw
            found = _read_yaml(SETTINGS_FILE, raw, texts, diagnostics)
            settings = found[0] if found else None
    inputs = _inputs_from(settings)
    files: list[str] = []
    seen: set[str] = set()
    for index, folder in enumerate(inputs):
        try:
            folder = normalize(folder)
            if folder == "":
                continue  # the whole repository: validate reports it (it overlaps the output)
        except PathOutsideRepository:
            diagnostics.error("E106", f"input folder {folder!r} is outside the repository",
                              Location(SETTINGS_FILE, 0, ("spec", "inputs", index)))
            continue
        try:
            walked = source.walk(folder)
        except PathOutsideRepository:
            diagnostics.error("E106", f"input folder {folder!r} leads outside the repository (a symbolic link, or "
                              "a loop of them)", Location(SETTINGS_FILE if settings else folder),
                              "input folders are real folders inside the repository")
            continue
        for path in walked:
            if path in seen:  # overlapping input folders
                continue
            seen.add(path)
            files.append(path)
            if path.endswith(YAML_SUFFIXES):
                raw = _fetch(source, path, diagnostics)
                if raw is not None:
                    data[path] = raw
    lock_text = None
    if source.is_file(LOCK_FILE):
        try:
            lock_text = source.read(LOCK_FILE).decode("utf-8")
            texts[LOCK_FILE] = lock_text
        except (OSError, UnicodeDecodeError) as exc:
            diagnostics.error("E108", f"cannot read {LOCK_FILE}: {exc}", Location(LOCK_FILE))
    digests = {path: content_digest(raw) for path, raw in data.items()}
    folder = charts_folder(settings)
    archives, in_house = _chart_archives(source, folder, diagnostics)
    return Snapshot(settings, inputs, sorted(files), data, digests, texts, diagnostics, lock_text, archives, folder,
                    in_house, _folder_files(source, files, diagnostics))


def _folder_files(source: Source, files: list[str], diagnostics: Diagnostics) -> dict[str, bytes]:
    """The files that are not YAML below every folder that holds a kustomization."""
    folders = {path.rpartition("/")[0] for path in files if path.rpartition("/")[2] in KUSTOMIZATION_FILES}
    if not folders:
        return {}
    found = {}
    for path in files:
        if not path.endswith(YAML_SUFFIXES) and any(path.startswith(f"{folder}/") for folder in folders):
            raw = _fetch(source, path, diagnostics)
            if raw is not None:
                found[path] = raw
    return found


def charts_folder(settings: RawDocument | None) -> str:
    """Where chart archives are kept: charts.path, or easel's cache with `charts.commit: false`."""
    spec = settings.data.get("spec") if settings else None
    charts = spec.get("charts") if isinstance(spec, dict) else None
    charts = charts if isinstance(charts, dict) else {}
    if charts.get("commit") is False:
        return f"{CACHE}/charts"
    try:
        return normalize(charts["path"]) if isinstance(charts.get("path"), str) else "charts"
    except PathOutsideRepository:
        return "charts"  # validate reports it


def _chart_archives(source: Source, folder: str, diagnostics: Diagnostics
                    ) -> tuple[dict[str, bytes], dict[str, tuple[tuple[str, str], ...]]]:
    """Every `.tgz` under the folder, read as it is (a link among them is refused, as everywhere in a chart), and
    every in-house chart (a folder with a Chart.yaml, not inside another chart) packed in memory, by its folder,
    with its files' texts (written into the trees that run it)."""
    try:
        walked = source.walk(folder) if folder else []
    except PathOutsideRepository:
        return {}, {}
    found: dict[str, bytes] = {}
    texts: dict[str, tuple[tuple[str, str], ...]] = {}
    charts_at = sorted(path[: -len("/Chart.yaml")] for path in walked if path.endswith("/Chart.yaml"))
    top = [f for f in charts_at if not any(f.startswith(other + "/") for other in charts_at)]
    for path in walked:
        if path.endswith(".tgz") and not any(path.startswith(f + "/") for f in top):
            if source.is_link(path):
                diagnostics.error("E109", f"{path} is a symbolic link: chart archives are read as they are",
                                  Location(path))
                continue
            raw = _fetch(source, path, diagnostics)
            if raw is not None:
                found[path] = raw
    for chart in top:
        try:
            _, found[chart] = charts.pack(source, chart)
            texts[chart] = charts.texts(source, chart)
        except charts.ChartFolderError as problem:
            found.pop(chart, None)
            diagnostics.error("E109", f"in-house chart {chart}: {problem}", Location(f"{chart}/Chart.yaml"))
    return found, texts


def read_charts(snapshot: Snapshot, diagnostics: Diagnostics) -> list[ChartArchive]:
    """The archives, each read in memory (load/charts.py); one that cannot be read is an error at its file."""
    found = []
    for path, data in sorted(snapshot.charts.items()):
        try:
            archive = charts.read_archive(path, data)
        except charts.ChartArchiveError as problem:
            where = f"{path}/Chart.yaml" if path in snapshot.in_house else path
            diagnostics.error("E109", f"{path}: {problem}", Location(where))
            continue
        found.append(dataclasses.replace(archive, sources=snapshot.in_house[path]) if path in snapshot.in_house
                     else archive)
    return found


def parse(snapshot: Snapshot, memo: DocumentMemo | None = None) -> RawRepo:
    """Every input document, parsed (or taken from memo, by the digest of the file's bytes)."""
    texts, diagnostics = dict(snapshot.texts), Diagnostics(list(snapshot.diagnostics))
    reader = _Reader(texts, diagnostics, memo)
    if _too_many_documents(snapshot, diagnostics):
        return RawRepo(snapshot.settings, [], texts, snapshot.files, snapshot.inputs, diagnostics, snapshot.lock_text,
                       snapshot.digests, {}, [], snapshot.charts_folder, snapshot.folder_files)
    fresh = [(path, raw) for path, raw in snapshot.data.items()
             if path != SETTINGS_FILE and not reader.known(snapshot.digests[path])]
    ready = _parse_in_two(fresh) if len(fresh) >= PARALLEL_FILES and parallel.AVAILABLE else {}
    documents: list[RawDocument] = []
    for path, raw in snapshot.data.items():
        if path != SETTINGS_FILE:
            documents.extend(reader.parse(path, raw, snapshot.digests[path], ready.get(path)))
    archives = read_charts(snapshot, diagnostics)
    return RawRepo(snapshot.settings, documents, texts, snapshot.files, snapshot.inputs, diagnostics,
                   snapshot.lock_text, snapshot.digests, reader.parsed, archives, snapshot.charts_folder,
                   snapshot.folder_files)


def _too_many_documents(snapshot: Snapshot, diagnostics: Diagnostics) -> bool:
    """Whether the input files hold more documents together than easel reads (counted, not parsed), said at the
    file that goes past the limit."""
    total = 0
    for path, raw in snapshot.data.items():
        total += limits.documents(raw) if len(raw) <= limits.MAX_FILE_BYTES else 0
        if total > limits.MAX_TOTAL_DOCUMENTS:
            diagnostics.error("E112", f"the input files hold more than {limits.MAX_TOTAL_DOCUMENTS:,} documents "
                              f"together, past this one", Location(path, line=1, column=1))
            return True
    return False
