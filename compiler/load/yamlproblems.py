"""What stopped PyYAML reading a file, as problems that say where, and where else to look: a flow mapping left
open is reported where its closing bracket is missing, with notes at where it opened and where the parser noticed;
another syntax error notes where the block or scalar it was in starts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class YamlProblem:
    kind: str  # "syntax" | "alias" | "duplicate" | "tag" | "limit"
    message: str
    line: int | None
    column: int | None
    doc: int
    notes: tuple[tuple[str, int, int], ...] = ()  # (message, line, column): other places that explain it


def construction_problem(exc: yaml.constructor.ConstructorError, index: int) -> YamlProblem:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or str(exc)
    if "unhashable" in problem:  # `? [a, b]`: a complex key, which no easel field takes
        kind, problem = "syntax", "a mapping key must be a plain value, not a list or a mapping"
    elif "the mapping key" in problem or " is not " in problem:  # also NaN: `.nan` is not a number
        kind = "syntax"  # a key that is not a string, a value that does not fit its tag
    else:
        kind = "tag"
    return YamlProblem(kind, one_line(problem), mark.line + 1 if mark else None, mark.column + 1 if mark else None,
                       index)


def syntax_problem(exc: yaml.MarkedYAMLError, text: str, index: int) -> YamlProblem:
    mark = exc.problem_mark or exc.context_mark
    if exc.context_mark is not None and "end of stream" in (exc.problem or ""):
        mark = exc.context_mark  # an unclosed quote or bracket: where it opened, not the end of the file
    message = one_line(" ".join(p for p in (exc.context, exc.problem) if p)) or "invalid YAML"
    line = mark.line + 1 if mark else None
    if line is not None and "\t" in (text.splitlines()[line - 1:line] or [""])[0]:
        message += " (YAML does not allow tabs for indentation: use spaces)"
    unclosed = _unclosed(exc, text)
    if unclosed is not None:
        return YamlProblem("syntax", unclosed[0], *unclosed[1], index, unclosed[2])
    context = _CONTEXT.fullmatch(exc.context or "")
    opened = exc.context_mark
    notes = ((f"the {context[1]} starts here", opened.line + 1, opened.column + 1),) \
        if context and opened is not None and mark is not None and opened.index != mark.index else ()
    return YamlProblem("syntax", message, line, mark.column + 1 if mark else None, index, notes)


_CONTEXT = re.compile(r"while (?:parsing|scanning) an? (.+)")  # PyYAML's contexts: "while parsing a block mapping"


_FLOW = {"while parsing a flow mapping": ("flow mapping", "{", "}"),
         "while parsing a flow sequence": ("flow sequence", "[", "]")}


def _unclosed(exc: yaml.MarkedYAMLError, text: str
              ) -> tuple[str, tuple[int, int], tuple[tuple[str, int, int], ...]] | None:
    """A flow mapping or sequence left open (`{a: 1` and a new line): the parser notices only at the next token,
    lines later; the `}` is missing after the last value before it. (message, where the closing bracket is
    missing, notes at where the collection opened and where the parser noticed); None for other problems."""
    flow = _FLOW.get(exc.context or "")
    opened, noticed = exc.context_mark, exc.problem_mark
    if flow is None or opened is None or noticed is None or "did not find expected" not in (exc.problem or ""):
        return None
    what, opening, closing = flow
    end = _last_token_end(text, _outdented(text, opened.line, noticed))
    if end is None or end[0] >= noticed.line:  # on the line the parser noticed: that place says it already
        return None
    message = (f"the {what} opened on line {opened.line + 1} is not closed: expected ',' or '{closing}' after "
               f"this value")
    notes = ((f"the {what} opens here, with '{opening}'", opened.line + 1, opened.column + 1),
             ("the file ends here with it open" if not text[noticed.index:].strip() else
              "YAML read on to here before it noticed", noticed.line + 1, noticed.column + 1))
    return message, (end[0] + 1, end[1] + 1), notes


def _outdented(text: str, opened: int, noticed) -> tuple[int, int]:
    """(line, column), 0-based: the start of the first line after the line `opened` that holds more than a
    comment and is indented no deeper than it (a flow collection's next lines are indented deeper: that line
    belongs to the block around it, so the collection was to be closed before it), or where the parser noticed."""
    lines = text.splitlines()
    depth = len(lines[opened]) - len(lines[opened].lstrip(" ")) if opened < len(lines) else 0
    for number in range(opened + 1, min(noticed.line + 1, len(lines))):
        content = lines[number].strip()
        if content and not content.startswith("#") and len(lines[number]) - len(lines[number].lstrip(" ")) <= depth:
            return number, 0
    return noticed.line, noticed.column


def _last_token_end(text: str, before: tuple[int, int]) -> tuple[int, int] | None:
    """(line, column), 0-based, where the last YAML token that starts before `before` ends (PyYAML's scanner,
    which reads tokens only, so it gets past what the parser stopped at): a plain scalar that runs on into the
    lines after (a flow collection's `demo` and the next line's key read as one) ends with its first line."""
    last = None
    lines = text.splitlines(keepends=True)
    try:  # the text up to the line of `before`: no further is needed
        for token in yaml.scan("".join(lines[:before[0] + 1]), Loader=yaml.SafeLoader):
            if (token.start_mark.line, token.start_mark.column) >= before:
                break
            last = token
    except yaml.YAMLError:
        pass
    if last is None:
        return None
    start, end = last.start_mark, last.end_mark
    if end.line >= before[0] > start.line:
        return start.line, len(lines[start.line].rstrip())
    return end.line, end.column


def one_line(text: str) -> str:
    return " ".join(text.split())


def declared(text: str) -> dict[int, tuple[str | None, str | None]]:
    """Each document's `kind` and `metadata.name`, as far as YAML reads them before it stops (by document index):
    what a document it could not read was declaring, so that what refers to it is not reported as unknown too."""
    found: dict[int, tuple[str | None, str | None]] = {}
    index = -1
    stack: list[list[Any]] = []  # per open collection: [is a mapping, its current key, a key comes next]
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.DocumentStartEvent):
                index, stack = index + 1, []
                found[index] = (None, None)
            elif isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
                if stack and stack[-1][0] and stack[-1][2]:  # a key
                    stack[-1][1:] = [getattr(event, "value", None), False]
                    continue
                if isinstance(event, yaml.ScalarEvent) and all(frame[0] for frame in stack):
                    found[index] = _noted(found[index], [frame[1] for frame in stack], event.value)
                _value_read(stack)
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if stack and stack[-1][0] and stack[-1][2]:  # a mapping or list as a key: easel refuses those
                    stack[-1][1:] = [None, False]
                stack.append([isinstance(event, yaml.MappingStartEvent), None, True])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)) and stack:
                stack.pop()
                _value_read(stack)
    except yaml.YAMLError:
        pass
    return found


def _value_read(stack: list[list[Any]]) -> None:
    if stack and stack[-1][0]:
        stack[-1][2] = True


def _noted(known: tuple[str | None, str | None], path: list[Any], value: str) -> tuple[str | None, str | None]:
    kind, name = known
    if path == ["kind"]:
        return value, name
    if path == ["metadata", "name"]:
        return kind, value
    return known
