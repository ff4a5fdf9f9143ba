"""Jinja2, sandboxed: `{{ params.x }}` placeholders in properties and user-defined definition templates.

Templates run in Jinja's immutable sandbox with StrictUndefined and no loader: no attribute walking into Python
internals, no file or network access, no `include`; repetition (`*`, `**`) is bounded so a template cannot eat
the machine's memory. A string that is a single `{{ expression }}` keeps the expression's type, so
`count: "{{ params.gpus }}"` stays an integer.
"""

from __future__ import annotations

import operator
import re
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from . import yamlio

MAX_REPEAT = 100_000
_SINGLE = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}\s*$", re.S)


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context, operator_name, left, right):
        if operator_name == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and times * max(len(seq), 1) > MAX_REPEAT:
                    raise SecurityError("repetition too large for a template")
            return operator.mul(left, right)
        if operator_name == "**":
            if isinstance(right, (int, float)) and abs(right) > 64:
                raise SecurityError("power too large for a template")
            return operator.pow(left, right)
        return super().call_binop(context, operator_name, left, right)


def _to_yaml(value: Any) -> str:
    return yamlio.dump(value).rstrip("\n")


ENV = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, loader=None)
ENV.filters["toyaml"] = _to_yaml
for _unsafe in ("lipsum", "cycler", "joiner"):
    ENV.globals.pop(_unsafe, None)


class TemplateProblem(Exception):
    """A template failed: code is E405 (error), E406 (sandbox) or E210 (syntax); path is inside the value."""

    def __init__(self, code: str, message: str, path: tuple = ()):
        super().__init__(message)
        self.code = code
        self.message = message
        self.path = path


@lru_cache(maxsize=2048)
def compile_template(source: str):
    return ENV.from_string(source)


@lru_cache(maxsize=2048)
def _compile_expression(source: str):
    return ENV.compile_expression(source, undefined_to_none=False)


def _run(fn, path: tuple):
    try:
        return fn()
    except SecurityError as exc:
        raise TemplateProblem("E406", f"not allowed in a template: {exc}", path) from None
    except UndefinedError as exc:
        raise TemplateProblem("E405", f"template refers to something undefined: {exc.message}", path) from None
    except TemplateSyntaxError as exc:
        raise TemplateProblem("E210", f"template syntax error: {exc.message}", path) from None
    except TemplateError as exc:
        raise TemplateProblem("E405", f"template failed: {exc}", path) from None
    except (ArithmeticError, TypeError, ValueError, LookupError, RecursionError, MemoryError) as exc:
        raise TemplateProblem("E405", f"template failed: {type(exc).__name__}: {exc}", path) from None


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
        value = _run(lambda: compiled(**variables), path)
        undefined = _find_undefined(value)
        if undefined is not None:
            raise TemplateProblem("E405", f"template refers to something undefined: {undefined._undefined_message}",
                                  path)
        return value
    template = _run(lambda: compile_template(text), path)
    return _run(lambda: template.render(**variables), path)


def render_value(value: Any, variables: dict[str, Any], path: tuple = ()) -> Any:
    """value with every placeholder string inside it rendered (a new structure; value is unchanged)."""
    if isinstance(value, str):
        return render_string(value, variables, path) if has_template(value) else value
    if isinstance(value, dict):
        return {k: render_value(v, variables, path + (k,)) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, variables, path + (i,)) for i, v in enumerate(value)]
    return value


def contains_template(value: Any) -> bool:
    if isinstance(value, str):
        return has_template(value)
    if isinstance(value, dict):
        return any(contains_template(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_template(v) for v in value)
    return False


def render_yaml(source: str, variables: dict[str, Any]) -> Any:
    """A definition template rendered and read as YAML."""
    text = _run(lambda: compile_template(source).render(**variables), ())
    try:
        return yamlio.load_one(text)
    except Exception as exc:  # yaml errors of every kind
        raise TemplateProblem("E408", f"template output is not valid YAML: {' '.join(str(exc).split())}") from None


def uses_variable(source: str, name: str) -> bool:
    from jinja2 import meta

    try:
        return name in meta.find_undeclared_variables(ENV.parse(source))
    except TemplateSyntaxError:
        return False
