"""Kubernetes' strategic-merge rules and string fields, read from the OpenAPI schemas kubernetes-validate ships:
which list fields merge by which key (`x-kubernetes-patch-merge-key`), which lists of plain values merge, and the
types below each field; and which fields hold strings, with the types that lead to them. easel's own merge
(compiler/kube/merge.py) and its string fields (compiler/kube/strings.py) read the table this writes to
compiler/kube/data/merge-keys.json; a test checks that the committed table is what the schemas say.

    python tests/merge_keys.py      # rewrite compiler/kube/data/merge-keys.json
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import kubernetes_validate

TABLE = Path(__file__).resolve().parent.parent / "compiler" / "kube" / "data" / "merge-keys.json"


SCHEMAS = Path(os.path.dirname(kubernetes_validate.__file__)) / "kubernetes-json-schema"


def schema_versions() -> list[str]:
    """The Kubernetes versions kubernetes-validate ships schemas of, oldest first."""
    local = [v for v in os.listdir(SCHEMAS) if v.endswith("-local")]
    return sorted(local, key=lambda v: tuple(int(p) for p in v[1:].split("-")[0].split(".")))


def _ref(schema: dict) -> str | None:
    ref = schema.get("$ref") or (schema.get("allOf") or [{}])[0].get("$ref")
    return ref.split("/")[-1] if ref else None


def _definitions(version: str) -> dict:
    return json.loads((SCHEMAS / version / "_definitions.json").read_text())["$defs"]


def merge_table(version: str) -> dict:
    definitions = _definitions(version)
    fields: dict[str, dict[str, tuple]] = {}
    for name, schema in definitions.items():
        found = {}
        for field, sub in (schema.get("properties") or {}).items():
            if "items" in sub:
                found[field] = (_ref(sub["items"]), sub.get("x-kubernetes-patch-merge-key"),
                                sub.get("x-kubernetes-patch-strategy"))
            elif _ref(sub):
                found[field] = (_ref(sub), None, None)
        fields[name] = found
    memo: dict[str, bool] = {}

    def matters(name: str, trail: frozenset = frozenset()) -> bool:
        """Whether a merge below this type differs from plain JSON merge (maps merge, lists are replaced)."""
        if name in memo or name in trail:
            return memo.get(name, False)
        memo[name] = any(key or "merge" in (strategy or "") or (child and matters(child, trail | {name}))
                         for child, key, strategy in fields.get(name, {}).values())
        return memo[name]

    types = {}
    for name in sorted(fields):
        if matters(name):
            types[name] = {field: [child if child and matters(child) else None, key, strategy]
                           for field, (child, key, strategy) in sorted(fields[name].items())
                           if key or "merge" in (strategy or "") or (child and matters(child))}
    kinds = {}
    for name, schema in definitions.items():
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            if name in types:
                api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
                kinds[f"{api_version}/{gvk['kind']}"] = name
    return {"kubernetes": version, "kinds": dict(sorted(kinds.items())), "types": types,
            "strings": string_fields(definitions, set(kinds.values()))}


STRING, STRINGS, STRING_MAP = "string", "[string]", "{string}"  # a string; a list of them; a map of them


def _is_string(schema: dict) -> bool:
    """`type: string` (or [string, null]), but not an enum: a number is no value of an enum, as text or not."""
    kind = schema.get("type")
    return (kind == "string" or kind == ["string", "null"]) and "enum" not in schema


def _string_shape(schema: dict) -> str | None:
    """What a field holds, for the string walk: a string marker, a type, "{type}" for a map of that type; None
    for anything else (numbers, int-or-string, quantities, free-form objects)."""
    if _is_string(schema):
        return STRING
    if "items" in schema:
        return STRINGS if _is_string(schema["items"]) else _ref(schema["items"])
    values = schema.get("additionalProperties")
    if isinstance(values, dict):
        return STRING_MAP if _is_string(values) else (f"{{{_ref(values)}}}" if _ref(values) else None)
    return _ref(schema)


def string_fields(definitions: dict, kind_types: set[str]) -> dict:
    """{type: {field: marker or type}}: the string fields of every type an object's kind reaches, and the fields
    that lead to them. Only what the walk needs: no `status` (easel writes none), no type without strings below."""
    shapes = {name: {field: shape for field, sub in (schema.get("properties") or {}).items()
                     if (shape := _string_shape(sub))}
              for name, schema in definitions.items()}
    leading: set[str] = set()  # types with a string field somewhere below
    while True:
        found = {name for name, fields in shapes.items()
                 if any(shape in (STRING, STRINGS, STRING_MAP) or shape.strip("{}") in leading
                        for shape in fields.values())}
        if found == leading:
            break
        leading = found
    table: dict[str, dict[str, str]] = {}
    todo = sorted(kind_types & leading)
    while todo:
        name = todo.pop()
        if name in table:
            continue
        table[name] = {field: shape for field, shape in sorted(shapes[name].items())
                       if (shape in (STRING, STRINGS, STRING_MAP) or shape.strip("{}") in leading)
                       and not (field == "status" and name in kind_types)}
        todo.extend(shape.strip("{}") for shape in table[name].values() if shape.strip("{}") in leading)
    return dict(sorted(table.items()))


def table_text(version: str) -> str:
    return json.dumps(merge_table(version), indent=0, sort_keys=True, separators=(",", ":")) + "\n"


if __name__ == "__main__":
    TABLE.write_text(table_text(schema_versions()[-1]))
    print(f"wrote {TABLE}")  # noqa: T201  (a script: it reports what it wrote)
