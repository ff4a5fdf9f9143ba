"""Diagnostics: plain values collected across a run, rendered once at the edge.

A Location stays small (file, document index, path inside the document) until it is printed; only then is it
turned into a line and column, from the file's text (see positions.py).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from compiler.diagnostics.codes import CODES

PathItem = str | int


@dataclass(frozen=True)
class Location:
    file: str  # repository-relative POSIX path ("" when the problem has no file)
    doc: int = 0  # index of the YAML document inside the file
    path: tuple[PathItem, ...] = ()  # keys and indices inside that document
    key: bool = False  # point at the mapping key itself rather than at its value
    line: int | None = None  # 1-based; set directly when the position is already known (syntax errors)
    column: int | None = None
    text_line: int | None = None  # 1-based line inside a multi-line string value (a template)

    def at(self, *more: PathItem, key: bool = False) -> Location:
        return Location(self.file, self.doc, self.path + tuple(more), key)

    def as_key(self) -> Location:
        """The same place, pointing at the mapping key rather than its value."""
        return Location(self.file, self.doc, self.path, True)

    def in_text(self, line: int | None) -> Location:
        """A line inside the string value here (a template's line), when known."""
        return Location(self.file, self.doc, self.path, self.key, text_line=line)


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Note:
    message: str
    location: Location | None = None


@dataclass(frozen=True)
class Subject:
    """What a diagnostic is about, when a profile's mistake shows in each workload (or stack) that uses it:
    said after the message as "(workload a/b)", "(workloads a/b, c/d)", "(stack gpu-operator 24.9.0)"."""
    kind: str  # "workload" | "stack"
    names: tuple[str, ...]
    cluster: str | None = None  # a template rendered for one cluster

    def __str__(self) -> str:
        listed = ", ".join(self.names[:3]) + (f" and {len(self.names) - 3} more" if len(self.names) > 3 else "")
        noun = self.kind if len(self.names) == 1 else f"{self.kind}s"
        where = f" on cluster {self.cluster}" if self.cluster else ""
        return f"({noun} {listed}{where})"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    location: Location | None = None
    hint: str | None = None
    severity: Severity = Severity.ERROR
    notes: tuple[Note, ...] = ()
    subject: Subject | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def text(self) -> str:
        """The message as printed: with its subject."""
        return f"{self.message} {self.subject}" if self.subject else self.message


def error(code: str, message: str, location: Location | None = None, hint: str | None = None,
          notes: Iterable[Note] = (), subject: Subject | None = None) -> Diagnostic:
    if code not in CODES:
        raise KeyError(f"undocumented diagnostic code {code}")
    return Diagnostic(code, message, location, hint if hint is not None else CODES[code].hint, Severity.ERROR,
                      tuple(notes), subject)


def warning(code: str, message: str, location: Location | None = None, hint: str | None = None,
            subject: Subject | None = None, notes: Iterable[Note] = ()) -> Diagnostic:
    if code not in CODES:
        raise KeyError(f"undocumented diagnostic code {code}")
    return Diagnostic(code, message, location, hint if hint is not None else CODES[code].hint, Severity.WARNING,
                      notes=tuple(notes), subject=subject)


def merge_subjects(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """A mistake in a profile shows once per workload using it: say it once, naming the workloads."""
    merged: dict[tuple, Diagnostic] = {}
    out: list[Diagnostic | tuple] = []
    for diagnostic in diagnostics:
        subject = diagnostic.subject
        if subject is None or subject.kind != "workload":
            out.append(diagnostic)
            continue
        key = (diagnostic.code, diagnostic.location, diagnostic.message, diagnostic.hint, diagnostic.notes,
               subject.cluster)
        first = merged.get(key)
        if first is None:
            out.append(key)
            merged[key] = diagnostic
        else:
            names = first.subject.names + subject.names  # type: ignore[union-attr]
            merged[key] = replace(first, subject=replace(subject, names=names))
    return [merged[item] if isinstance(item, tuple) else item for item in out]


@dataclass
class Diagnostics:
    """The one list every stage appends to."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, diagnostic: Diagnostic) -> None:
        self.items.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    def error(self, code: str, message: str, location: Location | None = None, hint: str | None = None,
              notes: Iterable[Note] = ()) -> None:
        self.items.append(error(code, message, location, hint, notes))

    def warning(self, code: str, message: str, location: Location | None = None, hint: str | None = None) -> None:
        self.items.append(warning(code, message, location, hint))

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    @property
    def error_count(self) -> int:
        return sum(1 for d in self.items if d.is_error)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)
