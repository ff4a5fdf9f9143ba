"""How much input easel reads: bytes per file, documents per file, documents in all, and how deeply YAML may
nest. Each is checked in one linear pass before a file is parsed (a file past a limit is never parsed at all),
so that a hostile or mistaken file is refused in a fraction of the time reading it would take.

The limits are far past what a fleet needs: the 10,000-cluster benchmark fleet holds about 10,000 documents,
none of its files more than a few kilobytes or ten levels deep.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

MAX_FILE_BYTES = 16 * 1024 * 1024  # bytes one file may hold
MAX_DOCUMENTS = 10_000  # documents one file may hold
MAX_TOTAL_DOCUMENTS = 1_000_000  # documents all input files may hold together
MAX_DEPTH = 100  # lists and mappings inside each other

_MARKER = re.compile(rb"^---(?=[ \t\r\n]|$)", re.M)  # a document start; at column 0 it is one wherever it is
_BLOCK_PREFIX = re.compile(r"[ \t?:-]{40}")  # a line indented (or opened by `- - -`) this far may nest deep
_LINE_PREFIX = re.compile(r"\n[ \t?:-]{40}")  # the same after a newline (a literal first: a fast scan)

# Python's parser, not libyaml's: libyaml (since the one PyYAML 6.0.4 bundles) refuses flow collections past its
# own depth while it scans ahead, before handing out the events that reach ours, so the limit and the place
# said would depend on the PyYAML build; this pass runs only on text that may nest deep (_maybe_deep)
_Loader: Any = yaml.SafeLoader


def documents(data: bytes) -> int:
    """How many documents the file's bytes hold, at most: its `---` markers, and one before the first of them
    when the file does not start with one (comments before it count as a document: the count is an upper bound)."""
    upper = data.count(b"\n---") + data.startswith(b"---")
    if not upper:
        return 1
    markers = sum(1 for _ in _MARKER.finditer(data))
    return markers + (0 if data.startswith(b"---") else 1)


def nth_document_line(data: bytes, n: int) -> int:
    """The 1-based line of the n-th document marker (0-based n)."""
    for index, match in enumerate(_MARKER.finditer(data)):
        if index == n:
            return data.count(b"\n", 0, match.start()) + 1
    return 1


def file_problem(data: bytes) -> tuple[str, int] | None:
    """(why the file is past a limit, its line), or None."""
    if len(data) > MAX_FILE_BYTES:
        mib = MAX_FILE_BYTES // 1024 // 1024
        return f"more than {mib} MiB in one file: this one holds {len(data):,} bytes", 1
    count = documents(data)
    if count > MAX_DOCUMENTS:
        first_past = MAX_DOCUMENTS - (0 if data.startswith(b"---") else 1)
        return (f"more than {MAX_DOCUMENTS:,} documents in one file: this one holds {count:,}",
                nth_document_line(data, first_past))
    return None


def _maybe_deep(text: str) -> bool:
    """Whether the text might nest MAX_DEPTH deep. A block collection nests in another only indented further or
    after a `-`, `?` or `:` on the same line, so block nesting is at most about the longest such line prefix;
    flow nesting is at most the number of brackets that open it."""
    return (text.count("[") + text.count("{") >= MAX_DEPTH // 2 or _BLOCK_PREFIX.match(text) is not None
            or _LINE_PREFIX.search(text) is not None)


def too_deep(text: str) -> tuple[int, int, int] | None:
    """(line, column, document) where lists and mappings first nest more than MAX_DEPTH deep, or None. One pass
    over the parser's events, which keeps its own stack: nothing here recurses, and the nodes are never built
    (building a tree 30,000 deep crashes PyYAML's C composer). A syntax error stops the pass: parsing reports it."""
    if not _maybe_deep(text):
        return None
    loader = _Loader(text)
    depth, document = 0, -1
    try:
        while True:
            event = loader.get_event()
            if event is None or isinstance(event, yaml.StreamEndEvent):
                return None
            if isinstance(event, yaml.DocumentStartEvent):
                document += 1
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    return (mark.line + 1, mark.column + 1, max(document, 0)) if mark else (1, 1, max(document, 0))
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
