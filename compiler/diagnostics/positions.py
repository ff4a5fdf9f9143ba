"""Turn a Location (file, document, path) into a line and column, only when a diagnostic is printed."""

from __future__ import annotations

import contextlib
from functools import lru_cache

import yaml

from compiler.diagnostics import Location

_Loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader]
try:
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader


@lru_cache(maxsize=64)
def _documents(text: str) -> tuple:
    """The file's documents as nodes, up to the first that cannot be read (a syntax error further down does not
    take the positions of the documents before it)."""
    found: list[yaml.Node] = []
    with contextlib.suppress(yaml.YAMLError, RecursionError):
        found.extend(yaml.compose_all(text, Loader=_Loader))
    return tuple(found)


def _child(node, item, want_key: bool):
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(item):
                return key_node if want_key else value_node
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(item, int) and 0 <= item < len(node.value):
        return node.value[item]
    return None


def resolve(location: Location, text: str | None) -> tuple[int, int] | None:
    """(line, column), 1-based, of the deepest node of the path that exists; None when unknown."""
    if location.line is not None:
        return location.line, location.column or 1
    if text is None:
        return None
    documents = _documents(text)
    if location.doc >= len(documents):
        return (1, 1) if location.doc == 0 else None
    node = documents[location.doc]
    if node is None:
        return 1, 1
    path = location.path
    for i, item in enumerate(path):
        last = i == len(path) - 1
        found = _child(node, item, want_key=last and location.key)
        if found is None:
            break
        node = found
    mark = node.start_mark
    if location.text_line and isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        return _block_line(text, mark.line + location.text_line)  # a block scalar's text starts after the indicator
    return mark.line + 1, mark.column + 1  # elsewhere, where the node starts


def _block_line(text: str, index: int) -> tuple[int, int]:
    lines = text.splitlines()
    if 0 <= index < len(lines):
        line = lines[index]
        return index + 1, len(line) - len(line.lstrip()) + 1
    return index + 1, 1
