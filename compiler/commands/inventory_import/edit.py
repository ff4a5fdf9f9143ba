"""The round-trip editor of `inventory import`: a document people wrote, changed to hold new data, touching only
the lines whose data changed.

The document is read with ruamel.yaml's round trip (comments, quotes, flow and block styles, key order) and the
new data merged into it: a value equal to what is written stays as written (`512Gi` for `536870912Ki` too), a
new key goes where the import would put it among the keys already there, a new string is quoted as easel quotes
it. The document is dumped before and after the merge, and the lines that differ between those two dumps replace
the same lines of the original text: what ruamel.yaml would write otherwise (spacing inside braces, an indentation
other than the document's usual one) stays as it was where nothing changed. When those lines cannot be found in
the original, the document is written as ruamel.yaml writes it, still with its comments, quotes and styles.
Whatever is written reads back as the data it was to say. A document exactly as easel writes it (an earlier
import's) is written as easel writes it, without the round trip.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import pairwise
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from compiler.load import yamlio
from compiler.model import quantity

QUANTITIES = frozenset({"memory"})  # facts written as quantities: the same when their values are


def same(a: Any, b: Any, key: str | None = None) -> bool:
    """Whether a and b say the same: mappings whatever their key order, quantities whatever their unit."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], k) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y, key) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if key in QUANTITIES and isinstance(a, str | int) and isinstance(b, str | int):
        try:
            return quantity.parse(a) == quantity.parse(b)
        except ValueError:
            pass
    return bool(a == b)


def kept(old: Any, new: Any, key: str | None = None) -> Any:
    """new, with what old already says the same kept as old says it (`512Gi` for `536870912Ki`): keys in old's
    order, a new one after the keys before it in new."""
    if same(old, new, key):
        return old
    if isinstance(old, dict) and isinstance(new, dict):
        merged = {k: kept(old[k], new[k], k) for k in old if k in new}
        for k in new:
            if k not in merged:
                items = list(merged.items())
                items.insert(_position(merged, new, k), (k, new[k]))
                merged = dict(items)
        return merged
    if isinstance(old, list) and isinstance(new, list):
        return [kept(o, n, key) for o, n in zip(old, new, strict=False)] + new[len(old):]
    return new


@dataclass(frozen=True)
class Style:
    """How a document is indented, in ruamel.yaml's terms: a nested mapping's indent, a block sequence's items'
    indent and its dashes' offset (both from the parent key)."""
    mapping: int = 2
    sequence: int = 2
    offset: int = 0  # easel's own files: dashes under the parent key (yamlio.dump)


_COMMENT = re.compile(r"\s+#.*$")


def style_of(text: str) -> Style:
    """The indentation of the first nested mapping and the first block sequence of text (else easel's)."""
    lines = [_COMMENT.sub("", line.rstrip()) for line in text.splitlines()]
    lines = [line for line in lines if line.strip() and not line.lstrip().startswith(("#", "---"))]
    mapping = sequence = offset = None
    for parent, line in pairwise(lines):
        if not parent.endswith(":"):
            continue
        key = len(parent) - len(parent.lstrip(" -"))
        spaces = len(line) - len(line.lstrip(" "))
        if line.lstrip().startswith("- ") and sequence is None and spaces >= key:
            offset, sequence = spaces - key, len(line) - len(line.lstrip(" -")) - key
        elif not line.lstrip().startswith("-") and mapping is None and spaces > key:
            mapping = spaces - key
    default = Style()
    offset = default.offset if offset is None else offset
    sequence = default.sequence if sequence is None else max(sequence, offset + 2)
    return Style(mapping or default.mapping, sequence, offset)


def _yaml(style: Style, explicit_start: bool) -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 1 << 30  # never fold a line
    yaml.indent(mapping=style.mapping, sequence=style.sequence, offset=style.offset)
    yaml.brace_single_entry_mapping_in_flow_sequence = True  # `gpus: [{count: 2}]`, never `[count: 2]`
    yaml.explicit_start = explicit_start
    return yaml


def _dump(yaml: YAML, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _written(value: Any) -> Any:
    """A value to put into a document, its strings quoted as easel quotes them (`'1.30'`, `''`)."""
    if not isinstance(value, dict | list | str):
        return value
    reader = YAML()
    reader.preserve_quotes = True
    return reader.load(yamlio.dump({"v": value}))["v"]


def _position(target: Any, source: dict, key: str) -> int:
    """Where a new key goes in target: after the keys that come before it in source."""
    order, there = list(source), list(target)
    return max((there.index(k) + 1 for k in order[:order.index(key)] if k in target), default=0)


def _merge_lists(target: Any, source: list) -> Any:
    if all(isinstance(i, dict) and "name" in i for i in [*target, *source]):  # devices listed inline: by name
        names = {item["name"] for item in source}
        for index in reversed(range(len(target))):
            if target[index]["name"] not in names:
                del target[index]
        at = {item["name"]: index for index, item in enumerate(target)}
        for item in source:
            if item["name"] in at:
                merged = merge(target[at[item["name"]]], item)
                if merged is not target[at[item["name"]]]:
                    target[at[item["name"]]] = merged
            else:
                target.append(_written(item))
        return target
    for index, item in enumerate(source[:len(target)]):
        merged = merge(target[index], item)
        if merged is not target[index]:
            target[index] = merged
    while len(target) > len(source):
        del target[-1]
    for item in source[len(target):]:
        target.append(_written(item))
    return target


def merge(target: Any, source: Any, key: str | None = None) -> Any:
    """target (a ruamel.yaml node) made to say what source says, keeping what already says it; the new value."""
    if same(target, source, key):
        return target
    if isinstance(target, CommentedMap) and isinstance(source, dict):
        for gone in [k for k in target if k not in source]:
            del target[gone]
        for k, value in source.items():
            if k not in target:
                target.insert(_position(target, source, k), k, _written(value))
                continue
            merged = merge(target[k], value, k)
            if merged is not target[k]:
                target[k] = merged
        return target
    if isinstance(target, list) and isinstance(source, list):
        return _merge_lists(target, source)
    return _written(source)


def _opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """difflib's opcodes from a to b, the common head and tail matched first (most of a document)."""
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    middle = SequenceMatcher(None, a[head:len(a) - tail], b[head:len(b) - tail], autojunk=False).get_opcodes()
    return [("equal", 0, head, 0, head),
            *((tag, i1 + head, i2 + head, j1 + head, j2 + head) for tag, i1, i2, j1, j2 in middle),
            ("equal", len(a) - tail, len(a), len(b) - tail, len(b))]


def _matches(original: list[str], dumped: list[str]) -> dict[int, int]:
    """line of dumped -> the same line of original, for the lines the two share in order."""
    found = {}
    for tag, i1, i2, j1, _ in _opcodes(dumped, original):
        if tag == "equal":
            found.update({i1 + k: j1 + k for k in range(i2 - i1)})
    return found


def _edit(where: dict[int, int], size: int, first: list[str], second: list[str],
          opcode: tuple[str, int, int, int, int]) -> tuple[int, int, list[str]]:
    """The lines of the original (start, end) a change from the first dump to the second replaces, and with what."""
    _, i1, i2, j1, j2 = opcode
    low, high = i1 - 1, i2  # the nearest lines of the first dump found in the original, around the change
    while low >= 0 and low not in where:
        low -= 1
    while high < len(first) and high not in where:
        high += 1
    if i1 == i2 == high < len(first):  # an insertion before a line found: it goes right before it
        return where[high], where[high], second[j1:j2]
    start = where[low] + 1 if low >= 0 else 0
    end = where[high] if high < len(first) else size
    return start, end, first[low + 1:i1] + second[j1:j2] + first[i2:high]


def splice(original: str, before: str, after: str) -> str | None:
    """original with the lines that differ between before and after (its dumps before and after an edit)
    changed likewise. A changed line of before not found in original (ruamel.yaml writes it otherwise, `{a: 1}`
    for `{ a: 1 }`) takes with it the lines of original from the last line found before it to the next one found
    after it. None when two changes would take the same lines."""
    lines, first, second = (t.splitlines(keepends=True) for t in (original, before, after))
    where = _matches(lines, first)
    edits: list[tuple[int, int, list[str]]] = []
    for opcode in _opcodes(first, second):
        if opcode[0] == "equal":
            continue
        edit = _edit(where, len(lines), first, second, opcode)
        if edits and edit[0] < edits[-1][1]:
            return None
        edits.append(edit)
    for start, end, replacement in reversed(edits):
        lines[start:end] = replacement
    return "".join(lines)


def _reads(text: str) -> list[Any] | None:
    parsed, problems = yamlio.parse(text)
    return None if problems else [p.data for p in parsed]


def edited(text: str, data: Any) -> str | None:
    """The document text, changed to say data, as little as it takes; None when ruamel.yaml cannot read it or
    would not write it so that easel reads data back."""
    body = text[len("---\n"):] if text.startswith("---\n") else text
    read = _reads(text)
    if read is not None and len(read) == 1 and yamlio.dump(read[0]) == body:  # as easel writes: so it stays
        return text[:len(text) - len(body)] + yamlio.dump(data)
    yaml = _yaml(style_of(text), explicit_start=text.startswith("---"))
    try:
        document = yaml.load(text)
    except YAMLError:
        return None
    before = _dump(yaml, document)
    after = _dump(yaml, merge(document, data))
    spliced = splice(text, before, after)
    return next((t for t in (spliced, after) if t is not None and _reads(t) == [data]), None)


def new_document(data: Any, style: Style, explicit_start: bool) -> str:
    """A new document, indented as the file's others are."""
    if style == Style():  # as easel writes
        return ("---\n" if explicit_start else "") + yamlio.dump(data)
    return _dump(_yaml(style, explicit_start), _written(data))
