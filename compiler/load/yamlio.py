"""The one YAML reader and the one YAML writer.

Reading uses PyYAML's C parser with a safe constructor that also reports duplicate keys and refuses alias bombs.
Positions are not kept while loading (that would cost on every node); positions.py finds them again, from the
text, only for the nodes a diagnostic points at.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from compiler.load.limits import MAX_DEPTH, MAX_DOCUMENTS, too_deep
from compiler.load.yamlproblems import YamlProblem, construction_problem, one_line, syntax_problem

_BaseLoader: Any  # one of two classes, chosen at import
_BaseDumper: Any
try:  # the C implementations are much faster; fall back when PyYAML was built without libyaml
    _BaseLoader = yaml.CSafeLoader
    _BaseDumper = yaml.CSafeDumper
except AttributeError:  # pragma: no cover
    _BaseLoader = yaml.SafeLoader
    _BaseDumper = yaml.SafeDumper

MAX_EXPANDED_NODES = 1_000_000
_STR = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MEMO_LIMIT = 200_000  # scalar spellings remembered by a reader or writer before it starts afresh


# Plain scalars that some reader takes for something other than a string, though PyYAML's YAML 1.1 resolver does
# not: YAML 1.1's full booleans (y, n: Go's yaml.v2, which kubectl, Helm, kustomize, Flux and Argo CD read
# through sigs.k8s.io/yaml), YAML 1.2's core schema (0o17, 1e3: Go's yaml.v3), and 1.1's other types (binary,
# sexagesimal, dates, merge and value keys). The writer quotes them; a string always reads back as a string.
_READ_AS_OTHER = re.compile(r"""
    [yYnN] | yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
  | ~ | null|Null|NULL
  | [-+]?[0-9_]+ | [-+]?0o[0-7_]+ | [-+]?0x[0-9a-fA-F_]+ | [-+]?0b[01_]+
  | [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+ (\.[0-9_]*)?
  | [-+]?([0-9][0-9_]*)?\.[0-9_]* ([eE][-+]?[0-9]+)? | [-+]?[0-9][0-9_]* [eE][-+]?[0-9]+
  | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)
  | [0-9]{4}-[0-9]{1,2}-[0-9]{1,2} ([Tt\ ].*)?
  | << | =
""", re.X)
_SOMETHING_ELSE = "tag:easel.dev,2026:read-as-other"  # any tag but str's: the emitter then quotes the scalar
_GO_OCTAL = re.compile(r"[-+]?0[0-7]+")


def _read_as_other(value: str) -> bool:
    """Whether some reader takes this plain scalar for a non-string. Beyond the patterns above, Go's yaml.v2 drops
    underscores from a scalar that starts like a number and reads it if strconv's ParseInt (base 0) or ParseFloat
    does: 1_0e1_0, +Inf, -nan, 0x1p-2."""
    if _READ_AS_OTHER.fullmatch(value):
        return True
    plain = value.replace("_", "")
    if not plain or plain[0] not in "+-0123456789.":
        return False
    parsers: list[Callable[[str], object]] = [lambda t: int(t, 0), float]
    if "x" in plain.lower():
        parsers.append(float.fromhex)
    for parse in parsers:
        try:
            parse(plain)
            return True
        except ValueError:
            pass
    return bool(_GO_OCTAL.fullmatch(plain))


def _resolve_scalars_once(cls, base, quote_ambiguous: bool = False) -> None:
    """Make cls resolve the tag of each plain scalar spelling once: the same keys and values repeat thousands of
    times in a fleet, and PyYAML's resolver runs a list of regular expressions on every one. quote_ambiguous
    (the writer): a plain spelling another reader takes for a non-string does not resolve to str."""
    known: dict[tuple, str] = {}

    def resolve(self, kind, value, implicit):
        if kind is not yaml.ScalarNode:
            return base.resolve(self, kind, value, implicit)
        key = (value, implicit)
        tag = known.get(key)
        if tag is None:
            if len(known) >= _MEMO_LIMIT:
                known.clear()
            tag = base.resolve(self, kind, value, implicit)
            if quote_ambiguous and implicit[0] and tag == _STR and _read_as_other(value):
                tag = _SOMETHING_ELSE
            known[key] = tag
        return tag

    cls.resolve = resolve


class AliasBomb(Exception):
    pass


class _Loader(_BaseLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicate_keys: list[tuple[Any, int, int]] = []  # (key, line, column), 1-based

    def note_key(self, seen: set[tuple[str, str]], key_node) -> None:
        """Record key_node when its mapping had a key of the same type and spelling before it."""
        key = (key_node.tag, key_node.value)
        if key in seen:
            mark = key_node.start_mark
            self.duplicate_keys.append((key_node.value, mark.line + 1, mark.column + 1))
        seen.add(key)

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[tuple[str, str]] = set()
            for key_node, _ in node.value:
                if key_node.tag != _MERGE_TAG and isinstance(key_node, yaml.ScalarNode):
                    _string_key(key_node)
                    self.note_key(seen, key_node)
        return super().construct_mapping(node, deep=deep)


def _string_key(key_node) -> None:
    """Every key easel reads is a string (as in JSON, and as Kubernetes and Helm take them): `1:` or `true:` as a
    key is a mistake to point at, not a value to sort or compare later."""
    if key_node.tag != "tag:yaml.org,2002:str":
        kind = key_node.tag.rsplit(":", 1)[-1]
        kind = {"int": "a number", "float": "a number", "bool": "a boolean", "null": "null"}.get(kind, f"a {kind}")
        raise yaml.constructor.ConstructorError(
            None, None, f"the mapping key {key_node.value!r} is {kind}, not a string: quote it ('{key_node.value}')",
            key_node.start_mark)


def _checked(construct, what: str):
    """A scalar constructor that says where a value does not fit its tag (`!!float vision`, a 5,000-digit
    number) instead of failing inside PyYAML."""
    def build(loader, node):
        try:
            return construct(loader, node)
        except yaml.constructor.ConstructorError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            raise yaml.constructor.ConstructorError(
                None, None, f"{one_line(str(node.value))[:80]!r} is not {what}", node.start_mark) from None
    return build


def _no_nan(construct):
    """A float constructor that refuses NaN: it equals nothing, not even itself, so no comparison, sort or limit
    means anything with it, and JSON (what Kubernetes reads) has no way to write it."""
    def build(loader, node):
        value = construct(loader, node)
        if value != value:
            raise yaml.constructor.ConstructorError(
                None, None, f"{one_line(str(node.value))[:80]!r} is not a number (NaN): no field takes it; quote it "
                "for a string", node.start_mark)
        return value
    return build


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_yaml_map)
for _tag, _what in (("int", "an integer (or too long for one)"), ("float", "a number"), ("bool", "a boolean"),
                    ("timestamp", "a date or time"), ("null", "null")):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}",
                            _checked(_Loader.yaml_constructors[f"tag:yaml.org,2002:{_tag}"], _what))
_Loader.add_constructor("tag:yaml.org,2002:float", _no_nan(_Loader.yaml_constructors["tag:yaml.org,2002:float"]))

_resolve_scalars_once(_Loader, _BaseLoader)

_STR = "tag:yaml.org,2002:str"
_SCALARS = {tag: _Loader.yaml_constructors[tag] for tag in (
    "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null")}
_PLAIN_MAP = "tag:yaml.org,2002:map"
_PLAIN_SEQ = "tag:yaml.org,2002:seq"


class _SlowPath(Exception):
    """A node the fast constructor leaves to PyYAML's: merge keys, timestamps, other tags, complex keys."""


def _fast(loader: _Loader, node, memo: dict[int, Any]) -> Any:
    """Python data from a node tree: PyYAML's safe constructor, minus its generality, for plain documents."""
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _STR:
            return node.value
        construct = _SCALARS.get(node.tag)
        if construct is None:
            raise _SlowPath
        return construct(loader, node)
    done = memo.get(id(node))
    if done is not None:
        return done
    if isinstance(node, yaml.SequenceNode) and node.tag == _PLAIN_SEQ:
        items: list[Any] = []
        memo[id(node)] = items
        items.extend(_fast(loader, item, memo) for item in node.value)
        return items
    if isinstance(node, yaml.MappingNode) and node.tag == _PLAIN_MAP:
        mapping: dict[Any, Any] = {}
        memo[id(node)] = mapping
        seen: set[tuple[str, str]] = set()
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                raise _SlowPath
            _string_key(key_node)
            loader.note_key(seen, key_node)
            mapping[_fast(loader, key_node, memo)] = _fast(loader, value_node, memo)
        return mapping
    raise _SlowPath


def _construct(loader: _Loader, node) -> Any:
    try:
        return _fast(loader, node, {})
    except _SlowPath:
        loader.duplicate_keys.clear()
        return loader.construct_document(node)


def _expanded_size(node, memo: dict[int, int]) -> int:
    """The size after expanding every alias, in nodes and 16-byte pieces of their text (so that a long string
    aliased thousands of times counts as what it becomes); raises AliasBomb past the limit."""
    done = memo.get(id(node))
    if done is not None:
        return done
    size = 1 + (len(node.value) // 16 if isinstance(node, yaml.ScalarNode) else 0)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            size += _expanded_size(k, memo) + _expanded_size(v, memo)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            size += _expanded_size(item, memo)
    if size > MAX_EXPANDED_NODES:
        raise AliasBomb(size)
    memo[id(node)] = size
    return size


@dataclass(frozen=True)
class ParsedDocument:
    index: int
    data: Any
    line: int  # 1-based line where the document starts


def parse(text: str) -> tuple[list[ParsedDocument], list[YamlProblem]]:
    """Every document of a YAML stream, or the problems that stopped reading it."""
    documents: list[ParsedDocument] = []
    problems: list[YamlProblem] = []
    deep = too_deep(text)
    if deep is not None:
        return documents, [YamlProblem("limit", f"lists and mappings nest more than {MAX_DEPTH} deep here",
                                       deep[0], deep[1], deep[2])]
    check_aliases = "&" in text and "*" in text
    loader = _Loader(text)
    index = 0
    try:
        while loader.check_node():
            if index >= MAX_DOCUMENTS:
                mark = loader.peek_event().start_mark
                problems.append(YamlProblem("limit", f"more than {MAX_DOCUMENTS:,} documents in one file",
                                            mark.line + 1, mark.column + 1, index))
                return documents, problems
            node = loader.get_node()
            if node is None:
                break
            if check_aliases:
                try:
                    _expanded_size(node, {})
                except AliasBomb:
                    mark = node.start_mark
                    problems.append(YamlProblem(
                        "alias", f"aliases in this document expand to more than {MAX_EXPANDED_NODES:,} nodes "
                        f"(or {MAX_EXPANDED_NODES * 16 // 1_000_000} MB of text)",
                        mark.line + 1, mark.column + 1, index))
                    return documents, problems
            data = _construct(loader, node)
            for key, line, column in loader.duplicate_keys:
                problems.append(YamlProblem("duplicate", f"key '{key}' appears more than once in this mapping",
                                            line, column, index))
            loader.duplicate_keys.clear()
            documents.append(ParsedDocument(index, data, node.start_mark.line + 1))
            index += 1
    except yaml.constructor.ConstructorError as exc:
        problems.append(construction_problem(exc, index))
    except yaml.MarkedYAMLError as exc:
        problems.append(syntax_problem(exc, text, index))
    except yaml.YAMLError as exc:
        problems.append(YamlProblem("syntax", one_line(str(exc)), None, None, index))
    finally:
        loader.dispose()
    return documents, problems


class _Dumper(_BaseDumper):
    def ignore_aliases(self, data):  # output repeats data rather than using anchors: easier to read and diff
        return True


def _represent_str(dumper, value: str):
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _represent_str)
_resolve_scalars_once(_Dumper, _BaseDumper, quote_ambiguous=True)  # asked of each scalar: would it read back the same?


def dump(data: Any) -> str:
    """Deterministic block YAML: keys in the order the data has them, no line folding, no aliases."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=1 << 30)


def dump_all(documents: list[Any]) -> str:
    return yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                         width=1 << 30, explicit_start=True)


def load_all(text: str) -> list[Any]:
    """Parse YAML produced by a template (no duplicate-key or alias checks: easel wrote it from a sandbox whose
    output is bounded); raises yaml.YAMLError on bad input."""
    return list(yaml.load_all(text, Loader=_BaseLoader))
