"""Stage 1, load: read easel.yaml and every YAML file under the input folders. The only stage that reads.

Returns raw documents (plain data with their Location) and the text of each file, which is kept for printing
code positions later. Nothing here knows the kinds; validate.py does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import yamlio
from .diagnostics import Diagnostics, Location
from .lockfile import LOCK_FILE
from .source import YAML_SUFFIXES, PathOutsideRepository, Source, normalize

SETTINGS_FILE = "easel.yaml"
DEFAULT_INPUTS = ("profiles", "environments", "clusters", "workloads")
_PROBLEM_CODES = {"syntax": "E101", "alias": "E103", "duplicate": "E104", "tag": "E107"}


@dataclass(frozen=True)
class RawDocument:
    file: str
    index: int
    data: Any
    loc: Location


@dataclass
class RawRepo:
    settings: RawDocument | None
    documents: list[RawDocument]
    texts: dict[str, str]  # path -> text of every YAML file read
    files: list[str]  # every file under the input folders (YAML or not)
    inputs: tuple[str, ...]
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    lock_text: str | None = None  # easel.lock, when there is one


def _read_yaml(source: Source, path: str, texts: dict[str, str], diagnostics: Diagnostics) -> list[RawDocument]:
    try:
        data = source.read(path)
    except PathOutsideRepository:
        diagnostics.error("E106", f"{path} points outside the repository", Location(path))
        return []
    except OSError as exc:
        diagnostics.error("E105", f"cannot read {path}: {exc.strerror or exc}", Location(path))
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
                          Location(path, problem.doc, line=problem.line, column=problem.column))
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


def load(source: Source) -> RawRepo:
    diagnostics = Diagnostics()
    texts: dict[str, str] = {}
    settings = None
    if source.is_file(SETTINGS_FILE):
        found = _read_yaml(source, SETTINGS_FILE, texts, diagnostics)
        settings = found[0] if found else None
    inputs = _inputs_from(settings)
    documents: list[RawDocument] = []
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
                documents.extend(_read_yaml(source, path, texts, diagnostics))
    lock_text = None
    if source.is_file(LOCK_FILE):
        try:
            lock_text = source.read(LOCK_FILE).decode("utf-8")
            texts[LOCK_FILE] = lock_text
        except (OSError, UnicodeDecodeError) as exc:
            diagnostics.error("E108", f"cannot read {LOCK_FILE}: {exc}", Location(LOCK_FILE))
    return RawRepo(settings, documents, texts, sorted(files), inputs, diagnostics, lock_text)
