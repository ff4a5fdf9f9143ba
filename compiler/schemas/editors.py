"""The schemas as editors get them: one schema for every document of the input folders (by its kind), and any
schema with only standard keywords and a pattern beside each custom format.

A trait's or component's `properties` are checked by its `type` (`by_type`): the properties schema of each
definition given (the built-in ones, and a repository's own) sits in `$defs`, and each use selects it with an
`if` on its `type`; a type none of them names is left unchecked. The schemas are checked as easel checks them,
never stricter: easel fills a string holding `{{` or `{%` from the parameters before it checks, so such a string
passes wherever a value goes; and the properties of one trait type merge across layers (environment, profile,
workload) before they are checked, so a trait's use need not hold the properties its schema requires."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compiler.schemas import DOCUMENT_KINDS, USES_MARKER, document_schema
from compiler.schemas.blocks import DIALECT, FORMAT_PATTERNS, NAME_MARKER, SCHEMA_BASE, described

# kind ("component" | "trait") -> definition name -> the schema of its properties (with its description)
Definitions = Mapping[str, Mapping[str, dict[str, Any]]]

TEMPLATE = {"type": "string", "pattern": r"\{\{|\{%"}  # filled in from the parameters before easel checks it
_ANNOTATIONS = ("title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly", "$comment")
_VALUES = ("additionalProperties", "items", "contains", "unevaluatedProperties", "unevaluatedItems")  # one schema
_VALUE_MAPS = ("properties", "patternProperties")
_SAME_VALUE = ("then", "else")  # applied to the value itself, as are allOf, anyOf, oneOf and dependentSchemas
_MERGED_ONLY = ("required", "dependentRequired", "minProperties")  # what a layer's part of a trait need not meet


def combined_schema(definitions: Definitions | None = None) -> dict[str, Any]:
    """One schema for every document of the input folders: an easel document by its `kind`; others (the plain
    Kubernetes objects of `manifests` files) are left alone."""
    defs: dict[str, Any] = {}
    for kind in DOCUMENT_KINDS:
        schema = by_type(document_schema(kind), definitions or {})
        defs.update(schema.pop("$defs", {}))  # the definitions' properties, shared by the kinds
        defs[kind] = {k: v for k, v in schema.items() if k not in ("$schema", "$id")}
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
        "$defs": {**{kind: defs.pop(kind) for kind in DOCUMENT_KINDS}, **defs},
    }


def exported(schema: Any) -> Any:
    """schema as editors get it: only standard keywords (the internal markers dropped), and a pattern beside
    each custom format."""
    if isinstance(schema, dict):
        out = {k: exported(v) for k, v in schema.items() if k not in (NAME_MARKER, USES_MARKER)}
        written = schema.get("format")
        pattern = FORMAT_PATTERNS.get(written) if isinstance(written, str) else None
        if pattern and "pattern" not in out:
            out["pattern"] = pattern
        return out
    if isinstance(schema, list):
        return [exported(v) for v in schema]
    return schema


def by_type(schema: dict[str, Any], definitions: Definitions) -> dict[str, Any]:
    """schema (a document's) with the properties of each use of a trait or component checked by its `type`:
    the definitions' properties schemas in `$defs` (only when a use needs them), selected by an `if` per type."""
    embedded = {kind: {name: found for name, props in named.items()
                       if (found := _embedded(props, f"{kind}-{name}", merged=kind == "trait")) is not None}
                for kind, named in definitions.items()}
    used: set[str] = set()
    out = _select(schema, embedded, used)
    defs = {f"{kind}-{name}": props for kind in embedded if kind in used for name, props in embedded[kind].items()}
    if defs:
        out["$defs"] = {**out.get("$defs", {}), **defs}
    return out


def _select(schema: Any, embedded: Mapping[str, Mapping[str, dict[str, Any]]], used: set[str]) -> Any:
    if isinstance(schema, list):
        return [_select(v, embedded, used) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _select(v, embedded, used) for k, v in schema.items()}
    kind = schema.get(USES_MARKER)
    if isinstance(kind, str) and embedded.get(kind):
        used.add(kind)
        description = schema["properties"]["properties"]["description"]
        out["allOf"] = [*out.get("allOf", ()), *(
            {"if": {"properties": {"type": {"const": name}}, "required": ["type"]},
             "then": {"properties": {"properties": {"$ref": f"#/$defs/{kind}-{name}", "description": description}}}}
            for name in embedded[kind])]
    return out


def _embedded(schema: dict[str, Any], key: str, merged: bool) -> dict[str, Any] | None:
    """A definition's properties schema as a `$defs` entry under key: its own references pointed there, a
    template passing wherever a value goes, and (merged: a trait's) no property required. None for a schema
    that refers outside itself: easel could not check with it either, and the editor leaves it alone."""
    schema = {k: v for k, v in schema.items() if k not in ("$schema", "$id")}
    if _foreign(schema):
        return None
    schema = _local_refs(exported(schema), key)
    return _loosened(schema, wrap=False, merged=merged)


def _foreign(schema: Any) -> bool:
    """Whether schema refers outside itself (or by an anchor), or holds a schema resource of its own."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if (isinstance(ref, str) and ref != "#" and not ref.startswith("#/")) \
                or {"$id", "$anchor", "$dynamicRef"} & set(schema):
            return True
        return any(_foreign(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_foreign(v) for v in schema)
    return False


def _local_refs(schema: Any, key: str) -> Any:
    """schema with every `#...` reference pointed at its place under `$defs/key`."""
    if isinstance(schema, dict):
        out = {k: _local_refs(v, key) for k, v in schema.items()}
        ref = schema.get("$ref")
        if isinstance(ref, str):  # "#" or "#/...": _foreign let no other through
            out["$ref"] = f"#/$defs/{key}{ref[1:]}"
        return out
    if isinstance(schema, list):
        return [_local_refs(v, key) for v in schema]
    return schema


def _loosened(schema: Any, wrap: bool, merged: bool) -> Any:
    """schema never stricter than easel is on a use's properties: where a value goes (wrap), a string holding a
    template passes; `oneOf` is `anyOf` (a template may fit two branches); merged, nothing is required of a
    mapping (another layer may give it). `if`, `not` and `propertyNames` stay as they are."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if merged and key in _MERGED_ONLY:
            continue
        if key in _VALUE_MAPS or key in ("$defs", "dependentSchemas"):
            same = key in ("$defs", "dependentSchemas")
            value = {k: _loosened(v, wrap=not same, merged=merged) for k, v in value.items()}
        elif key in _VALUES:  # a list's items are given whole, by one layer: they keep what they require
            value = _loosened(value, wrap=True, merged=merged and key in ("additionalProperties",
                                                                           "unevaluatedProperties"))
        elif key == "prefixItems":
            value = [_loosened(v, wrap=True, merged=False) for v in value]
        elif key in ("allOf", "anyOf", "oneOf"):
            value = [_loosened(v, wrap=False, merged=merged) for v in value]
        elif key in _SAME_VALUE:
            value = _loosened(value, wrap=False, merged=merged)
        out[key] = value
    if "oneOf" in out:
        either = {"anyOf": out.pop("oneOf")}
        if "anyOf" in out:
            out["allOf"] = [*out.get("allOf", ()), either]
        else:
            out.update(either)
    return _or_template(out) if wrap else out


def _or_template(schema: dict[str, Any]) -> dict[str, Any]:
    """schema, or a string holding a template: {annotations, if: TEMPLATE, else: the checks}."""
    notes = {k: v for k, v in schema.items() if k in _ANNOTATIONS}
    checks = {k: v for k, v in schema.items() if k not in _ANNOTATIONS}
    types = checks.get("type")
    if not checks or (set(checks) == {"type"} and "string" in (types if isinstance(types, list) else [types])):
        return schema  # any string passes already
    return {**notes, "if": TEMPLATE, "else": checks}
