"""The compiled schema of each document kind (fastjsonschema first, jsonschema to explain a failure)."""

from __future__ import annotations

from functools import cache

from compiler.schemas import KINDS, document_schema
from compiler.schemas import check as schemacheck

DOCUMENT_KINDS = tuple(k for k in KINDS if k != "Settings")


@cache
def validator(kind: str) -> schemacheck.FastValidator:
    return schemacheck.FastValidator(document_schema(kind))
