"""What a template may print, and how deep it may nest.

A template prints only data: strings, numbers, booleans, null, and lists or mappings of those. A method, a type,
a range, a generator or one of Jinja's own objects (`self`, `loop`, a macro, a namespace) is refused wherever it
would turn into text: printed by `{{ }}`, joined by `~`, formatted by `%`, `format` or `str.format`, or passed
to a filter that makes text of it. Its `repr` (which holds a memory address, different on every run) never
reaches the output or a message.

Nesting is bounded before Jinja parses a template, in one pass over its tokens, so that Python's recursion limit
never decides: brackets inside one tag, operators (filters, attribute and item steps, arithmetic and logic) in
one tag, and blocks (`{% if %}`, `{% for %}`, ...) inside each other.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from typing import Any

from jinja2 import Undefined
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import TemplateSyntaxError
from jinja2.nodes import Concat

MAX_BRACKETS = 20  # brackets open at once inside one {{ }} or {% %}
MAX_CHAIN = 100  # operators in one {{ }} or {% %}: filters, tests, `.x` and `[i]` steps, arithmetic, logic
MAX_BLOCKS = 12  # blocks open at once: {% if %}, {% for %}, {% macro %}, ...
MAX_ITEMS = 500_000  # items a printed value may hold
MAX_DEPTH = 64  # lists and mappings inside each other in a printed value
DATA = "a template prints only strings, numbers, booleans, null, and lists or mappings of those"
TEXT_FILTERS = ("join", "capitalize", "center", "e", "escape", "forceescape", "format", "indent", "lower", "pprint",
                "replace", "safe", "string", "striptags", "title", "trim", "truncate", "upper", "urlencode",
                "urlize", "wordcount", "wordwrap", "xmlattr", "tojson", "toyaml")
_OPENERS = frozenset(("lparen", "lbracket", "lbrace"))
_CLOSERS = frozenset(("rparen", "rbracket", "rbrace"))
_OPERATORS = frozenset(("pipe", "dot", "lbracket", "add", "sub", "mul", "div", "floordiv", "mod", "pow", "tilde",
                        "eq", "ne", "lt", "lteq", "gt", "gteq"))
_WORD_OPERATORS = frozenset(("and", "or", "not", "is", "in", "if"))
_BLOCKS = frozenset(("for", "if", "macro", "call", "filter", "with", "block", "autoescape", "set"))
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_ADDRESS = re.compile(r"<[^<>\n]* at 0x[0-9a-fA-F]+>|\b0x[0-9a-fA-F]{6,}\b")


class NotData(Exception):
    """A value that is not data was about to become text; what it is, in words (never its repr)."""


def describe(value: Any) -> str:
    if isinstance(value, type):
        return "a type"
    if callable(value):
        return "a function or method"
    name = type(value).__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def problem(value: Any, string_keys: bool, size: list[int] | None = None, depth: int = 0) -> str | None:
    """What keeps value from being plain data (bounded in items and depth); None when it is data. With
    string_keys, a mapping's keys must be strings (as where the value becomes YAML data)."""
    size = size if size is not None else [0]
    size[0] += 1
    if size[0] > MAX_ITEMS or depth > MAX_DEPTH:
        return "more data than a placeholder may give"
    if value is None or isinstance(value, (bool, int, str)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r}, which is not a number JSON or YAML can carry"
    if isinstance(value, (list, tuple)):
        return next((p for p in (problem(v, string_keys, size, depth + 1) for v in value) if p), None)
    if isinstance(value, dict):
        if string_keys and not all(isinstance(k, str) for k in value):
            return "a mapping whose keys are not all strings"
        items = (problem(v, string_keys, size, depth + 1) for pair in value.items() for v in pair)
        return next((p for p in items if p), None)
    return describe(value)


def _undefined_in(value: Any, depth: int = 0) -> Undefined | None:
    if isinstance(value, Undefined):
        return value
    if depth < MAX_DEPTH and isinstance(value, (list, tuple, dict)):
        for item in value.values() if isinstance(value, dict) else value:
            found = _undefined_in(item, depth + 1)
            if found is not None:
                return found
    return None


def require_data(*values: Any) -> None:
    """Raise NotData unless every value is data (an undefined one raises its own error, as StrictUndefined does)."""
    for value in values:
        undefined = _undefined_in(value)
        if undefined is not None:
            undefined._fail_with_undefined_error()
        found = problem(value, string_keys=False)
        if found:
            raise NotData(found)


def finalize(value: Any) -> Any:
    """Jinja's hook on every `{{ }}` before it is printed."""
    require_data(value)
    return value


def data_join(values: tuple) -> str:
    """`a ~ b`: data only, joined as text."""
    require_data(*values)
    return "".join(map(str, values))


def text_filter(function, iterable: bool = False):
    """A filter that makes text of its value and arguments: each must be data (a context Jinja passes first is
    not checked). `join` makes text of each item: its value may be any iterable (`range(3)|join`)."""
    passes_context = getattr(function, "jinja_pass_arg", None) is not None

    @functools.wraps(function)
    def checked(*args, **kwargs):
        context, values = (args[:1], args[1:]) if passes_context else ((), args)
        if iterable and values and not isinstance(values[0], (str, Undefined)):
            values = (list(itertools.islice(values[0], MAX_ITEMS + 1)), *values[1:])
        require_data(*values, *kwargs.values())
        return function(*context, *values, **kwargs)
    return checked


class DataCodeGenerator(CodeGenerator):
    """Jinja's code generator, with `~` through data_join."""

    def visit_Concat(self, node: Concat, frame: Frame) -> None:
        self.write("environment.data_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


def check_nesting(lexer, source: str) -> None:
    """Refuse a template nested past the limits above (a TemplateSyntaxError at the line), in one pass."""
    brackets = operators = blocks = 0
    block_name: str | None = None
    assigns = False
    for token in lexer.tokenize(source):
        kind = token.type
        if kind in ("variable_begin", "block_begin"):
            brackets = operators = 0
            block_name, assigns = ("" if kind == "block_begin" else None), False
        elif block_name == "" and kind == "name":
            block_name = token.value  # the tag's own word (`if`, `for`, `endif`): not an operator
            blocks -= block_name.startswith("end")
            continue
        elif kind == "assign":
            assigns = True
        elif kind == "block_end":
            blocks += block_name in _BLOCKS and not (block_name == "set" and assigns)
            if blocks > MAX_BLOCKS:
                _too_deep(f"blocks nested more than {MAX_BLOCKS} deep", token.lineno)
        if kind in _OPENERS:
            brackets += 1
            if brackets > MAX_BRACKETS:
                _too_deep(f"brackets nested more than {MAX_BRACKETS} deep in one expression", token.lineno)
        elif kind in _CLOSERS:
            brackets -= 1
        if kind in _OPERATORS or (kind == "name" and token.value in _WORD_OPERATORS):
            operators += 1
            if operators > MAX_CHAIN:
                _too_deep(f"more than {MAX_CHAIN} filters and operators in one expression", token.lineno)


def _too_deep(what: str, line: int) -> None:
    raise TemplateSyntaxError(f"template nested too deeply: {what}", line)


def expressions_at(source: str, line: int | None) -> str:
    """The tags on a template's line, as the author wrote them (cut short): to name the expression that failed."""
    if line is None:
        return ""
    found, at, position = [], 1, 0
    for match in _TAG.finditer(source):
        at += source.count("\n", position, match.start())
        position = match.start()
        if at == line:
            found.append(" ".join(match.group().split())[:80])
        elif at > line:
            break
    printed = [tag for tag in found if tag.startswith("{{")] or found
    listed = ", ".join(f"`{tag}`" for tag in printed[:3])
    return listed if len(printed) == 1 else f"one of {listed}" if printed else ""


def without_addresses(message: str) -> str:
    """A message with any object's repr taken out: a last guard, so no memory address is printed."""
    return _ADDRESS.sub("<object>", message)
