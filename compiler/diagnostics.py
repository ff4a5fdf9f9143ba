"""Diagnostics: plain values collected across a run, rendered once at the edge.

A Location stays small (file, document index, path inside the document) until it is printed; only then is it
turned into a line and column, from the file's text (see positions.py).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from .codes import CODES

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

    def at(self, *more: PathItem, key: bool = False) -> "Location":
        return Location(self.file, self.doc, self.path + tuple(more), key)

    def as_key(self) -> "Location":
        """The same place, pointing at the mapping key rather than its value."""
        return Location(self.file, self.doc, self.path, True)

    def in_text(self, line: int | None) -> "Location":
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
class Diagnostic:
    code: str
    message: str
    location: Location | None = None
    hint: str | None = None
    severity: Severity = Severity.ERROR
    notes: tuple[Note, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def error(code: str, message: str, location: Location | None = None, hint: str | None = None,
          notes: Iterable[Note] = ()) -> Diagnostic:
    if code not in CODES:
        raise KeyError(f"undocumented diagnostic code {code}")
    return Diagnostic(code, message, location, hint if hint is not None else CODES[code].hint, Severity.ERROR,
                      tuple(notes))


def warning(code: str, message: str, location: Location | None = None, hint: str | None = None) -> Diagnostic:
    if code not in CODES:
        raise KeyError(f"undocumented diagnostic code {code}")
    return Diagnostic(code, message, location, hint if hint is not None else CODES[code].hint, Severity.WARNING)


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

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)
