"""Strings where Kubernetes takes only strings. A lone `{{ params.x }}` keeps the parameter's type and a template's
YAML reads `2` as a number, but ConfigMap data, labels, annotations, env values, args and every other field
whose OpenAPI type is `string` take no number: the API server refuses the object (kustomize builds it fine).
`with_string_fields` writes such values as the strings they stand for, by the kind's OpenAPI type (from
data/merge-keys.json, made by tests/merge_keys.py); a kind Kubernetes does not have is left as it is.
"""

from __future__ import annotations

from typing import Any

from compiler.kube.api import openapi_table
from compiler.kube.merge import type_of

STRING, STRINGS, STRING_MAP = "string", "[string]", "{string}"  # as tests/merge_keys.py writes them


def with_string_fields(obj: Any) -> Any:
    """obj with every number or boolean in a string field of its kind as its string (2 -> "2", true -> "true",
    1.5 -> "1.5"); null, and fields of other types (replicas, containerPort, int-or-string, quantities), stay as
    they are. Parts that change are new; obj itself is not changed."""
    if not isinstance(obj, dict):
        return obj
    type_name = type_of(obj.get("apiVersion"), obj.get("kind"))
    return _object(obj, type_name) if type_name else obj


def _object(obj: dict[str, Any], type_name: str) -> dict[str, Any]:
    fields = openapi_table()["strings"].get(type_name, {})
    return {key: _field(value, fields[key]) if key in fields else value for key, value in obj.items()}


def _field(value: Any, shape: str) -> Any:
    """value as the field's shape wants it: a string, a list or map of strings, a type, a map of a type."""
    if shape == STRING:
        return _text(value)
    if shape == STRINGS:
        return [_text(item) for item in value] if isinstance(value, list) else value
    if shape == STRING_MAP:
        return {key: _text(item) for key, item in value.items()} if isinstance(value, dict) else value
    if shape.startswith("{"):
        type_name = shape[1:-1]
        return {key: _typed(item, type_name) for key, item in value.items()} if isinstance(value, dict) else value
    if isinstance(value, list):  # a list of the type
        return [_typed(item, shape) for item in value]
    return _typed(value, shape)


def _typed(value: Any, type_name: str) -> Any:
    return _object(value, type_name) if isinstance(value, dict) else value


def _text(value: Any) -> Any:
    """A number or boolean as Kubernetes would have it written: true/false, 2, 1.5."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value
