"""The schemas as editors get them: one schema for every document of the input folders (by its kind), and any
schema with only standard keywords and a pattern beside each custom format."""

from __future__ import annotations

from typing import Any

from compiler.schemas import DOCUMENT_KINDS, document_schema
from compiler.schemas.blocks import DIALECT, FORMAT_PATTERNS, NAME_MARKER, SCHEMA_BASE, described


def combined_schema() -> dict[str, Any]:
    """One schema for every document of the input folders: an easel document by its `kind`; others (the plain
    Kubernetes objects of `manifests` files) are left alone."""
    defs = {kind: {k: v for k, v in document_schema(kind).items() if k not in ("$schema", "$id")}
            for kind in DOCUMENT_KINDS}
    easel_api = {"pattern": r"^easel\.dev/"}  # or no apiVersion yet: a document being written
    return {
        "$schema": DIALECT,
        "$id": f"{SCHEMA_BASE}easel.json",
        "title": "easel document",
        "description": "Any document of an easel config repository's input folders, checked by its kind.",
        "type": "object",
        "allOf": [{"if": {"properties": {"apiVersion": easel_api}, "required": ["apiVersion"]},
                   "then": {"required": ["kind"], "properties": {"kind": described({"enum": list(DOCUMENT_KINDS)},
                                                                             "The document's kind.")}}}]
        + [{"if": {"properties": {"apiVersion": easel_api, "kind": {"const": kind}}, "required": ["kind"]},
            "then": {"$ref": f"#/$defs/{kind}"}} for kind in DOCUMENT_KINDS],
        "$defs": defs,
    }


def exported(schema: Any) -> Any:
    """schema as editors get it: only standard keywords (the internal name marker dropped), and a pattern beside
    each custom format."""
    if isinstance(schema, dict):
        out = {k: exported(v) for k, v in schema.items() if k != NAME_MARKER}
        written = schema.get("format")
        pattern = FORMAT_PATTERNS.get(written) if isinstance(written, str) else None
        if pattern and "pattern" not in out:
            out["pattern"] = pattern
        return out
    if isinstance(schema, list):
        return [exported(v) for v in schema]
    return schema
