"""The schema of each document kind, and its compiled form (fastjsonschema first, jsonschema to explain a
failure). Both are built once per kind; a test that changes a schema clears them (`schema.cache_clear()`,
`validator.cache_clear()`)."""

from __future__ import annotations

from functools import cache
from typing import Any

from compiler.schemas import KINDS, document_schema
from compiler.schemas import check as schemacheck
from compiler.schemas.defaults import defaults_of

DOCUMENT_KINDS = tuple(k for k in KINDS if k != "Settings")


@cache
def schema(kind: str) -> dict[str, Any]:
    """The whole-document schema of a kind (do not change it: it is shared)."""
    return document_schema(kind)


@cache
def validator(kind: str) -> schemacheck.FastValidator:
    return schemacheck.FastValidator(schema(kind))


def spec_schema(kind: str, *path: str) -> dict[str, Any]:
    """The schema of a field of a kind's spec, by the names of the mappings down to it (none: the spec's)."""
    found = schema(kind)["properties"]["spec"]
    for name in path:
        found = found["properties"][name]
    return found


def absent_defaults(kind: str, *path: str) -> dict[str, Any]:
    """What an optional mapping of a kind's spec holds when a document leaves it out: its fields' defaults (a
    mapping with a required field has no default of its own, so the filled data may lack it)."""
    return defaults_of(spec_schema(kind, *path))
