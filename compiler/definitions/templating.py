"""Jinja2, sandboxed: `{{ params.x }}` placeholders in properties and user-defined definition templates.

Templates run in Jinja's immutable sandbox with StrictUndefined and no loader: no attribute walking into Python
internals, no file or network access, no `include`. On top of the sandbox, a template cannot eat the machine:
repetition, padding and widths are bounded, a rendering stops past MAX_OUTPUT characters, and (in the main
thread) past TIME_LIMIT seconds. A string that is a single `{{ expression }}` keeps the expression's type, so
`count: "{{ params.gpus }}"` stays an integer (where Kubernetes takes only a string, the object gets the string
when it is written: kube/strings.py).
"""

from __future__ import annotations

import contextlib
import functools
import operator
import re
import signal
import threading
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from compiler.definitions import template_data
from compiler.definitions.template_data import NotData
from compiler.load import yamlio

MAX_REPEAT = 100_000  # characters or items one operation may produce
MAX_OUTPUT = 4_000_000  # characters one rendering may produce
TIME_LIMIT = 5.0  # seconds one rendering may take
_SINGLE = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}\s*$", re.S)
_WIDE_FORMAT = re.compile(r"\d{6,}")  # a width or precision of a million or more, in a format string


def _bounded(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_REPEAT:
        raise SecurityError(f"the number {value} is too large for a template argument")
    if isinstance(value, str) and _WIDE_FORMAT.search(value) and ("%" in value or "{" in value):
        raise SecurityError("format width too large for a template")


def _weight(value: Any, budget: int) -> int:
    """How many characters or items value holds, nested lists counted in full (but no further than budget)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (list, tuple)):
        total = 0
        for item in value:
            total += max(_weight(item, budget - total), 1)
            if total > budget:
                break
        return total
    return 1


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset(["*", "**", "%", "+", "-"])
    code_generator_class = template_data.DataCodeGenerator  # `~` joins data only
    data_join = staticmethod(template_data.data_join)

    def call_binop(self, context, operator_name, left, right):
        if operator_name == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) \
                        and times * max(_weight(seq, MAX_REPEAT), 1) > MAX_REPEAT:  # ['a' * 99999] * 99999 too
                    raise SecurityError("repetition too large for a template")
            return operator.mul(left, right)
        if operator_name == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            if _weight(left, MAX_OUTPUT) + _weight(right, MAX_OUTPUT) > MAX_OUTPUT:
                raise SecurityError("a value too large for a template")
            return operator.add(left, right)
        if operator_name == "**":
            if isinstance(right, (int, float)) and abs(right) > 64:
                raise SecurityError("power too large for a template")
            return operator.pow(left, right)
        if operator_name == "-":  # params.keys() - [...] is a set, in an order that changes from run to run
            result = operator.sub(left, right)
            if isinstance(result, (set, frozenset)):
                raise NotData("a set, whose order changes from one run to the next")
            return result
        if operator_name == "%" and isinstance(left, str):
            _bounded(left)
            template_data.require_data(right)
        return super().call_binop(context, operator_name, left, right)

    def call(__self, __context, __obj, *args, **kwargs):
        bound_to = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)  # "...".format(...)
        for value in (bound_to, *args, *kwargs.values()):
            _bounded(value)
        if isinstance(bound_to, str):  # "{}".format(x), "%s".__mod__(x): text made of the arguments
            template_data.require_data(*args, *kwargs.values())
        return super().call(__context, __obj, *args, **kwargs)


def _bounded_filter(function, check_value: bool = False):
    @functools.wraps(function)
    def checked(*args, **kwargs):
        for value in (*args[0 if check_value else 1:], *kwargs.values()):
            _bounded(value)
        return function(*args, **kwargs)
    return checked


def _to_yaml(value: Any) -> str:
    return yamlio.dump(value).rstrip("\n")


ENV = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, loader=None,
               finalize=template_data.finalize)  # every {{ }} prints data only
ENV.filters["toyaml"] = _to_yaml
for _sized in ("center", "indent", "wordwrap", "truncate", "batch", "slice", "join"):
    ENV.filters[_sized] = _bounded_filter(ENV.filters[_sized])
ENV.filters["format"] = _bounded_filter(ENV.filters["format"], check_value=True)  # the value is the format
for _texty in template_data.TEXT_FILTERS:
    ENV.filters[_texty] = template_data.text_filter(ENV.filters[_texty], iterable=_texty == "join")
ENV.filters.pop("random", None)  # a different output on every run
for _unsafe in ("lipsum", "cycler", "joiner"):
    ENV.globals.pop(_unsafe, None)


@contextlib.contextmanager
def _time_limit() -> Iterator[None]:
    """Stop a rendering that runs past TIME_LIMIT (only where signals can be used: the main thread)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise SecurityError(f"template took longer than {TIME_LIMIT:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _render_bounded(template, variables: dict[str, Any]) -> str:
    parts: list[str] = []
    size = 0
    with _time_limit():
        for part in template.generate(**variables):
            size += len(part)
            if size > MAX_OUTPUT:
                raise SecurityError(f"template output longer than {MAX_OUTPUT:,} characters")
            parts.append(part)
    return "".join(parts)


class TemplateProblem(Exception):
    """A template failed: code is E405 (error), E406 (sandbox) or E210 (syntax); path is inside the value and
    line, when known, the template's line."""

    def __init__(self, code: str, message: str, path: tuple = (), line: int | None = None):
        message = template_data.without_addresses(message)
        super().__init__(message)
        self.code = code
        self.message = message
        self.path = path
        self.line = line


def _template_line(exc: BaseException) -> int | None:
    """The template line a rendering failed at: Jinja names template frames "<template>"."""
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@lru_cache(maxsize=2048)
def compile_template(source: str):
    template_data.check_nesting(ENV.lexer, source)
    return ENV.from_string(source)


@lru_cache(maxsize=2048)
def _compile_expression(source: str):
    template_data.check_nesting(ENV.lexer, "{{" + source + "}}")
    return ENV.compile_expression(source, undefined_to_none=False)


def _run(fn, path: tuple, source: str = ""):
    try:
        return fn()
    except NotData as exc:
        line = _template_line(exc)
        what = template_data.expressions_at(source, line) or "an expression"
        raise TemplateProblem("E405", f"{what} gives {exc}: {template_data.DATA}", path, line) from None
    except SecurityError as exc:
        raise TemplateProblem("E406", f"not allowed in a template: {exc}", path, _template_line(exc)) from None
    except UndefinedError as exc:
        raise TemplateProblem("E405", f"template refers to something undefined: {_undefined(exc.message)}", path,
                              _template_line(exc)) from None
    except TemplateSyntaxError as exc:
        raise TemplateProblem("E210", f"template syntax error: {_syntax(exc.message)}", path, exc.lineno) from None
    except TemplateError as exc:
        raise TemplateProblem("E405", f"template failed: {exc}", path, _template_line(exc)) from None
    except (ArithmeticError, TypeError, ValueError, LookupError, RecursionError, MemoryError, NameError) as exc:
        # (NameError: Jinja folds a constant such as 'nan'|float into code that cannot run)
        raise TemplateProblem("E405", f"template failed: {type(exc).__name__}: {exc}", path,
                              _template_line(exc)) from None


def syntax_message(exc: TemplateSyntaxError) -> str:
    return _syntax(exc.message)


def _syntax(message: str | None) -> str:
    return re.sub(r" at \d+$", "", message or "invalid template")  # Jinja's character offset: the line says it


def _undefined(message: str | None) -> str:
    """Jinja's "'dict object' has no attribute 'x'" in words a template author knows."""
    return re.sub(r"'dict object' has no attribute '([^']+)'", r"no value named '\1'", message or "undefined")


def _find_undefined(value: Any) -> Undefined | None:
    if isinstance(value, Undefined):
        return value
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return next((u for u in map(_find_undefined, value) if u is not None), None)
    return None


def has_template(value: str) -> bool:
    return "{{" in value or "{%" in value


def render_string(text: str, variables: dict[str, Any], path: tuple = ()) -> Any:
    """A string with placeholders, rendered; a lone `{{ expression }}` keeps the expression's type."""
    single = _SINGLE.match(text)
    if single and "{%" not in text:
        expression = single.group("expr")
        compiled = _run(lambda: _compile_expression(expression), path)
        def evaluate():
            with _time_limit():
                return compiled(**variables)

        value = _run(evaluate, path)
        undefined = _find_undefined(value)
        if undefined is not None:
            raise TemplateProblem("E405", "template refers to something undefined: "
                                  f"{_undefined(undefined._undefined_message)}", path)
        problem = template_data.problem(value, string_keys=True)
        if problem:
            raise TemplateProblem("E405", f"`{{{{{expression.strip()[:60]}}}}}` gives {problem}: a lone "
                                  "placeholder may give a string, number, boolean, null, or a list or mapping of "
                                  "those", path)
        return _plain(value)
    template = _run(lambda: compile_template(text), path)
    return _run(lambda: _render_bounded(template, variables), path, text)


def _plain(value: Any) -> Any:
    """Plain Python data: Markup as str, tuples as lists."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def render_value(value: Any, variables: dict[str, Any], path: tuple = ()) -> Any:
    """value with every placeholder string inside it rendered (a new structure; value is unchanged)."""
    if isinstance(value, str):
        return render_string(value, variables, path) if has_template(value) else value
    if isinstance(value, dict):
        return {k: render_value(v, variables, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, variables, (*path, i)) for i, v in enumerate(value)]
    return value


def contains_template(value: Any) -> bool:
    if isinstance(value, str):
        return has_template(value)
    if isinstance(value, dict):
        return any(contains_template(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_template(v) for v in value)
    return False


def render_yaml(source: str, variables: dict[str, Any]) -> list[Any]:
    """A definition template rendered and read as YAML: its documents (empty ones left out)."""
    text = _run(lambda: _render_bounded(compile_template(source), variables), (), source)
    try:
        return [doc for doc in yamlio.load_all(text) if doc is not None]
    except Exception as exc:  # yaml errors of every kind
        raise TemplateProblem("E408", f"template output is not valid YAML: {' '.join(str(exc).split())}") from None


def uses_variable(source: str, name: str) -> bool:
    from jinja2 import meta

    try:
        template_data.check_nesting(ENV.lexer, source)
        return name in meta.find_undeclared_variables(ENV.parse(source))
    except TemplateSyntaxError:
        return False
