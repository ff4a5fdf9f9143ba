"""Validate data against a JSON Schema and turn each failure into a diagnostic that names the user's mistake.

jsonschema reports what is wrong and the path to it; this module maps the path to a Location and writes the
message a person can act on (did-you-mean for typos, "quote it" for YAML's surprising scalars).
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import re
from collections.abc import Callable, Iterable
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match

from compiler.diagnostics import Diagnostic, Location, Note, error
from compiler.model import quantity, valuespath, versions
from compiler.schemas.blocks import CHART_NAME_PATTERN, DURATION_PATTERN, NAME_MARKER

_DURATION = re.compile(DURATION_PATTERN)
_CHART_NAME = re.compile(CHART_NAME_PATTERN)

_FORMAT_FUNCTIONS = {
    "quantity": quantity.is_quantity,
    "semver": lambda v: not isinstance(v, str) or versions.is_version(v),
    "semver-range": lambda v: not isinstance(v, str) or versions.is_range(v),
    "values-path": lambda v: not isinstance(v, str) or valuespath.is_path(v),
    "duration": lambda v: not isinstance(v, str) or bool(_DURATION.fullmatch(v)),  # `$` alone admits "10m\n"
    "chart-name": lambda v: not isinstance(v, str) or bool(_CHART_NAME.fullmatch(v)),
    "chart-version": lambda v: not isinstance(v, str) or versions.is_version(v.removeprefix("v")),
}
FORMATS = FormatChecker(formats=())
for _name, _check in _FORMAT_FUNCTIONS.items():
    FORMATS.checks(_name)(_check)

_FORMAT_CODES = {
    "quantity": ("E209", "is not a Kubernetes quantity"),
    "semver": ("E501", "is not a semantic version (MAJOR.MINOR.PATCH)"),
    "semver-range": ("E502", "is not a version range"),
    "duration": ("E206", "is not a duration such as 10m, 1h or 30s"),
    "values-path": ("E206", 'is not a values path such as a.b[0].c or a.limits["nvidia.com/gpu"]'),
    "chart-name": ("E206", "is not a chart name: letters, digits, '.', '_' and '-', from a letter or digit (no path)"),
    "chart-version": ("E501", "is not a chart version: a semantic version (MAJOR.MINOR.PATCH), a leading v allowed"),
}


_FORMAT_HINTS = {
    "chart-name": "write the chart's name as its repository lists it (`helm search repo`), without a path",
    "chart-version": "pin one version as the repository publishes it, e.g. 1.4.2 or v24.9.0 (not a range)",
}


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=FORMATS)


class FastValidator:
    """easel's own document schemas, compiled to Python by fastjsonschema for the common case (valid input:
    about six times faster at fleet scale); jsonschema explains the failures. Only for easel's schemas, which
    use nothing beyond what both libraries read the same way; a user's schemas go to jsonschema alone."""

    def __init__(self, schema: dict[str, Any]):
        schema = _anchored_at_end(schema)
        self.full = validator(schema)
        draft7 = _finite_quantities({k: v for k, v in schema.items() if k not in ("$schema", "$id")})
        # use_default=False: the input is never changed here; validate fills defaults in on a copy (schemas/defaults.py)
        self.fast = fastjsonschema.compile(draft7, formats=dict(_FORMAT_FUNCTIONS), use_default=False)

    def is_valid(self, instance: Any) -> bool:
        try:
            self.fast(instance)
        except fastjsonschema.JsonSchemaException:
            return self.full.is_valid(instance)
        return True

    def iter_errors(self, instance: Any):
        return self.full.iter_errors(instance)


_LARGEST = 1.7976931348623157e308  # the largest finite float


def _finite_quantities(schema: Any) -> Any:
    """The schema with each quantity that may be a number bounded by the largest finite float: fastjsonschema
    checks formats on strings only, so `memory: .inf` would pass it; past the bound, jsonschema explains the
    failure (its quantity format refuses infinities). NaN never gets here: the YAML reader refuses it."""
    if isinstance(schema, dict):
        found = {key: _finite_quantities(value) for key, value in schema.items()}
        if found.get("format") == "quantity":
            found.update(minimum=-_LARGEST, maximum=_LARGEST)
        return found
    if isinstance(schema, list):
        return [_finite_quantities(item) for item in schema]
    return schema


def _anchored_at_end(schema: Any) -> Any:
    """The schema with each `pattern` that ends in `$` ending in `\\Z` instead: Python's `$` also matches before
    a final newline, so "abc\\n" would pass for a DNS label. (ECMA-262's `$` does not: exported schemas keep it.)"""
    if isinstance(schema, dict):
        return {key: (value[:-1] + "\\Z" if key == "pattern" and isinstance(value, str) and value.endswith("$")
                      and not value.endswith("\\$") else _anchored_at_end(value)) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_anchored_at_end(item) for item in schema]
    return schema


def schema_problem(schema: Any) -> str | None:
    """Why schema is not a valid Draft 2020-12 schema, or None."""
    try:
        Draft202012Validator.check_schema(schema)
    except Exception as exc:  # jsonschema raises SchemaError; anything else is as bad
        return getattr(exc, "message", str(exc))
    return None


MAX_PER_DOCUMENT = 50  # schema errors said of one instance: past them, a note on the last counts the rest


def check(validator: Draft202012Validator | FastValidator, instance: Any, location: Location,
          what: str = "", skip: Callable[[ValidationError], bool] | None = None) -> list[Diagnostic]:
    """Every schema failure of instance (past MAX_PER_DOCUMENT, counted), as diagnostics located inside the
    document at location; skip: the failures not to report."""
    if validator.is_valid(instance):
        return []
    found: list[Diagnostic] = []
    seen: set[tuple] = set()
    for err in sorted(validator.iter_errors(instance), key=_order):
        for leaf in _leaves(err):
            if skip is not None and skip(leaf):
                continue
            for diagnostic in _translate(leaf, location, what):
                key = (diagnostic.code, diagnostic.location, diagnostic.message)
                if key not in seen:
                    seen.add(key)
                    found.append(diagnostic)
    return _capped(_one_error_per_typo(found))


def _capped(found: list[Diagnostic]) -> list[Diagnostic]:
    """found, or its first MAX_PER_DOCUMENT with a note on the last saying how many more there are."""
    if len(found) <= MAX_PER_DOCUMENT:
        return found
    last = found[MAX_PER_DOCUMENT - 1]
    more = Note(f"and {len(found) - MAX_PER_DOCUMENT} more schema errors, not shown")
    return [*found[:MAX_PER_DOCUMENT - 1], dataclasses.replace(last, notes=(*last.notes, more))]


def _one_error_per_typo(found: list[Diagnostic]) -> list[Diagnostic]:
    """`enviroment: dev` is one mistake: keep "unknown field, did you mean 'environment'?" and drop "missing
    required field 'environment'" beside it."""
    meant = {(d.location.file, d.location.doc, d.location.path[:-1], d.hint) for d in found
             if d.code == "E203" and d.location and d.hint and d.hint.startswith("did you mean")}
    return [d for d in found if not (d.code == "E204" and d.location and (
        d.location.file, d.location.doc, d.location.path, f"did you mean '{d.message.split(chr(39))[1]}'?") in meant)]


def _order(err: ValidationError):
    return [str(p) for p in err.absolute_path], str(err.validator)


def _leaves(err: ValidationError) -> Iterable[ValidationError]:
    if err.validator in ("anyOf", "oneOf") and err.context:
        yield best_match(err.context)
    else:
        yield err


def describe(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return f"the date {value.isoformat()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _type_hint(value: Any, expected: list[str]) -> str | None:
    if "string" in expected:
        if isinstance(value, bool):
            return "YAML reads yes/no/on/off/true/false as booleans: quote the value"
        if isinstance(value, float):
            return (f"this was read as the number {value}: quote it to keep it text (unquoted, 1.10 is read as "
                    "the number 1.1)")
        if isinstance(value, int):
            return "this was read as a number: quote it"
        if isinstance(value, (datetime.date, datetime.datetime)):
            return "YAML reads this as a date: quote it"
    if value is None:
        return "the value is empty: fill it in or remove the key"
    if "integer" in expected and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return "this is a quoted number: remove the quotes"
    return None


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    choices = sorted(set(choices))
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if choices and len(choices) <= 12:
        return "expected one of: " + ", ".join(choices)
    return None


def dotted(path: Iterable[Any]) -> str:
    text = ""
    for item in path:
        text += f"[{item}]" if isinstance(item, int) else (f".{item}" if text else str(item))
    return text


def _translate(err: ValidationError, location: Location, what: str) -> list[Diagnostic]:
    path = tuple(err.absolute_path)
    where = dotted((*location.path, *path)) or "document"
    at = location.at(*path)
    kind = err.validator
    expected_value: Any = err.validator_value  # what the failed keyword asked for
    schema = err.schema if isinstance(err.schema, dict) else {}
    prefix = f"{what}: " if what else ""

    if kind == "additionalProperties" and isinstance(err.instance, dict):
        allowed = list(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        out = []
        for key in err.instance:
            if key in allowed or any(p.search(str(key)) for p in patterns):
                continue
            hint = did_you_mean(key, allowed) if allowed else None
            out.append(error("E203", f"{prefix}unknown field '{key}' in {where}", location.at(*path, key, key=True),
                             hint))
        return out
    if kind == "additionalProperties":  # schema of values (e.g. labels must be strings)
        return [error("E205", f"{prefix}{err.message}", at)]
    if kind == "required":
        missing = [r for r in expected_value if isinstance(err.instance, dict) and r not in err.instance]
        return [error("E204", f"{prefix}missing required field '{name}' in {where}", at.as_key() if at.path else at,
                      f"add `{name}:` to {where}") for name in missing]
    if kind == "type":
        expected = expected_value if isinstance(expected_value, list) else [expected_value]
        names = " or ".join({"object": "a mapping", "array": "a list", "integer": "an integer"}.get(t, f"a {t}")
                            for t in expected)
        return [error("E205", f"{prefix}{where} must be {names}, not {describe(err.instance)}", at,
                      _type_hint(err.instance, expected))]
    if kind in ("enum", "const"):
        choices = [str(c) for c in (expected_value if kind == "enum" else [expected_value])]
        code = "E206"
        if path and path[-1] == "apiVersion" and not location.path:
            code = "E201"
        return [error(code, f"{prefix}{where} is {describe(err.instance)}; expected "
                      + (" or ".join(repr(c) for c in choices)), at, did_you_mean(str(err.instance), choices))]
    if kind == "propertyNames":
        return [error("E208" if "pattern" in expected_value else "E206",
                      f"{prefix}invalid key {err.instance!r} in {where}",
                      location.at(*path, str(err.instance), key=True))]
    if kind in ("pattern", "maxLength") and schema.get(NAME_MARKER):
        return [error("E207", f"{prefix}invalid name {err.instance!r} in {where}", at)]
    if kind == "pattern" and isinstance(err.instance, str):
        label_like = "0,61" in str(expected_value)
        return [error("E208" if label_like else "E206",
                      f"{prefix}{where}: {err.instance!r} does not match {expected_value}", at)]
    if kind == "format":
        code, text = _FORMAT_CODES.get(expected_value, ("E206", f"is not a valid {expected_value}"))
        return [error(code, f"{prefix}{where}: {err.instance!r} {text}", at, _FORMAT_HINTS.get(expected_value))]
    return [error("E206", f"{prefix}{where}: {err.message}", at)]
