"""docs/reference/file-formats.md, written from the schemas editors get (editor.py): every kind and built-in
definition, each field with its type, whether it is required, its default and its description.

Run `python -m compiler.commands.schemadocs docs/reference/file-formats.md` after changing a schema; a test fails while
the committed file is stale.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from compiler import schemas
from compiler.commands import editor
from compiler.schemas import blocks, editors

COMMAND = "python -m compiler.commands.schemadocs docs/reference/file-formats.md"
# patterns that many fields share, named once in the Formats section
NAMED_PATTERNS = {
    blocks.DNS_LABEL: "DNS label",
    blocks.LABEL_KEY: "label key",
    blocks.LABEL_VALUE: "label value",
}
FORMAT_EXAMPLES = {
    "quantity": "a Kubernetes quantity: `64Gi`, `500m`, `1.5`, `2`, `1e3`",
    "semver": "a semantic version, MAJOR.MINOR.PATCH: `1.3.0`, `2.0.0-rc.1`",
    "semver-range": "an npm/Helm-style range: `1.2.0`, `^1.2`, `~1.3`, `>=1.2 <2`, `>=1.2, <2`, `1.x`, `*`",
    "duration": "a duration: `10m`, `1h30m`, `30s`, `500ms`",
    "values-path": 'a path into chart values: `a.b[0].c`, `a.limits["nvidia.com/gpu"]`, `a.list[*].b`',
    "chart-name": "a chart's name in its repository, never a path: `vllm-stack`, `gpu-operator`",
    "chart-version": "one chart version as published, a semantic version with an optional `v`: `0.1.9`, `v24.9.0`",
}
Row = tuple[str, dict[str, Any], str]  # field path, its schema, when it is required ("" never, "yes" always, ...)


def render() -> str:
    lines = [
        "# File formats",
        "",
        f"<!-- Generated from easel's schemas by `{COMMAND}`: do not edit by hand. -->",
        "",
        ("Every document of a config repository has `apiVersion: easel.dev/v1alpha1`, a `kind`, `metadata` and a "
        "`spec`; easel goes by the `kind`, not by the folder a file sits in. Unknown fields are errors. The same "
        "schemas, with these descriptions, are what editors get: `easel schema [NAME]` prints one, "
        "`easel schema --out DIR` writes them all (see the README's editor setup). A field marked required must be "
        "there whenever the mapping that holds it is."),
        "",
        "Kinds: " + ", ".join(f"[{kind}](#{kind.lower()})" for kind in schemas.KINDS) + ".",
        "Built-in components: " + ", ".join(f"[{n}](#component-{n})" for n in editor.builtin_names()["component"])
        + ". Built-in traits: " + ", ".join(f"[{n}](#trait-{n})" for n in editor.builtin_names()["trait"]) + ".",
        "",
        *_formats(),
        "## metadata",
        "",
        "Every kind's `metadata` (`easel.yaml` may leave it out):",
        "",
        *_table(_rows(editors.exported(schemas.METADATA), "metadata")),
    ]
    for kind in schemas.KINDS:
        schema = editor.kind_schema(kind)
        lines += [f"## {kind}", "", schema["description"], ""]
        lines += _table(_rows(schema["properties"]["spec"], "spec", "yes" if kind != "Settings" else ""))
    for kind, names in editor.builtin_names().items():
        lines += [f"## Built-in {kind}s", ""]
        for name in names:
            schema = editor.definition_schema(kind, name)
            lines += [f"### {kind} {name}", "", schema["description"], ""]
            rows = list(_rows(schema, "properties"))
            lines += _table(rows) if rows else [f"`properties`: {_type(schema)}.", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _formats() -> list[str]:
    lines = ["## Formats", "", "Values that a field's type names, and the pattern editors check them with:", "",
             "| Format | What it is | Pattern |", "|---|---|---|"]
    for name, pattern in blocks.FORMAT_PATTERNS.items():
        lines.append(f'| <a id="format-{name}"></a>{name} | {FORMAT_EXAMPLES[name]} | {_cell(_code(pattern))} |')
    for pattern, name in NAMED_PATTERNS.items():
        lines.append(f'| <a id="{_anchor(name)}"></a>{name} | {_named_pattern_text(name)} | {_cell(_code(pattern))} |')
    return [*lines, ""]


def _named_pattern_text(name: str) -> str:
    return {"DNS label": "lowercase letters, digits and `-`, starting and ending with a letter or digit",
            "label key": "a Kubernetes label key: an optional DNS prefix and `/`, then a name",
            "label value": "a Kubernetes label value: at most 63 letters, digits, `-`, `_` and `.`"}[name]


def _rows(schema: dict[str, Any], path: str, required: str = "") -> Iterator[Row]:
    """Every field below schema, depth first, with its path (`spec.components[].traits[].type`)."""
    conditions = _conditional_requirements(schema)
    for name, field in (schema.get("properties") or {}).items():
        where = "yes" if name in (schema.get("required") or ()) else conditions.get(name, "")
        field_path = f"{path}.{name}"
        yield field_path, field, where
        yield from _below(field, field_path)


def _below(schema: dict[str, Any], path: str) -> Iterator[Row]:
    if schema.get("properties"):
        yield from _rows(schema, path)
    items = schema.get("items")
    if isinstance(items, dict):
        yield from _below(items, f"{path}[]")
    values = schema.get("additionalProperties")
    if isinstance(values, dict):
        yield from _below(values, f"{path}.<key>")
    for branch in schema.get("anyOf") or ():
        yield from _below(branch, path)


def _conditional_requirements(schema: dict[str, Any]) -> dict[str, str]:
    """Fields an `if`/`then` requires ("when `source` is `palette`"), or one of which an anyOf requires."""
    found: dict[str, str] = {}
    for rule in schema.get("allOf") or ():
        condition = (rule.get("if") or {}).get("properties") or {}
        for required in (rule.get("then") or {}).get("required") or ():
            found[required] = " and ".join(f"when `{k}` is `{v['const']}`" for k, v in condition.items()
                                           if "const" in v)
    alternatives = [branch["required"] for branch in schema.get("anyOf") or () if set(branch) == {"required"}]
    for names in alternatives:
        for name in names:
            found[name] = "one of " + ", ".join(f"`{n}`" for group in alternatives for n in group)
    return found


def _type(schema: dict[str, Any]) -> str:
    if "const" in schema:
        return _code(json.dumps(schema["const"]))
    if "enum" in schema:
        return "one of " + ", ".join(_code(str(v)) for v in schema["enum"])
    if "anyOf" in schema and "type" not in schema:
        return "either " + "; or ".join(_type(branch) for branch in schema["anyOf"])
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds] if kinds else []
    if "array" in kinds:
        text = "list of " + _type(schema.get("items") or {})
        if schema.get("minItems"):
            text += f", at least {schema['minItems']}"
        return text
    if "object" in kinds:
        return _object_type(schema)
    text = " or ".join(kinds)
    if "anyOf" in schema:
        text += " (either " + "; or ".join(_type(branch) for branch in schema["anyOf"]) + ")"
    constraints = _constraints(schema)
    if not text:  # a branch that only narrows its parent's type
        return constraints.removeprefix(", ") or "any"
    return text + constraints


def _object_type(schema: dict[str, Any]) -> str:
    if schema.get("properties"):
        return "mapping (fields below)"
    values = schema.get("additionalProperties")
    keys = (schema.get("propertyNames") or {}).get("pattern")
    if isinstance(values, dict):
        key_text = f"{_pattern(keys)} keys" if keys else "keys"
        return f"mapping of {key_text} to {_type(values)}"
    return "mapping"


def _constraints(schema: dict[str, Any]) -> str:
    parts = []
    if "format" in schema:
        parts.append(f"[{schema['format']}](#format-{schema['format']})")
    elif "pattern" in schema:
        parts.append(_pattern(schema["pattern"]))
    if "minimum" in schema and "maximum" in schema:
        parts.append(f"{schema['minimum']} to {schema['maximum']}")
    elif "minimum" in schema:
        parts.append(f"at least {schema['minimum']}")
    if "maxLength" in schema:
        parts.append(f"at most {schema['maxLength']} characters")
    if schema.get("minLength") == 1:
        parts.append("not empty")
    return (", " + ", ".join(parts)) if parts else ""


def _pattern(pattern: str) -> str:
    fmt = next((f for f, p in blocks.FORMAT_PATTERNS.items() if p == pattern), None)
    if fmt:
        return f"[{fmt}](#format-{fmt})"
    name = NAMED_PATTERNS.get(pattern)
    return f"[{name}](#{_anchor(name)})" if name else f"matching {_code(pattern)}"


def _anchor(name: str) -> str:
    return "pattern-" + name.lower().replace(" ", "-")


def _default(schema: dict[str, Any]) -> str:
    # an empty mapping's default only says that its fields take theirs, which their own rows show
    if "default" not in schema or (schema["default"] == {} and schema.get("properties")):
        return ""
    return _code(_flow(schema["default"]))


def _flow(value: Any) -> str:
    """A value as YAML's flow style writes it: [a, b], true, 10m."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    return str(value)


def _table(rows: Iterator[Row] | list[Row]) -> list[str]:
    lines = ["| Field | Type | Required | Default | Description |", "|---|---|---|---|---|"]
    for path, schema, required in rows:
        cells = [_code(path), _type(schema), required, _default(schema), schema.get("description", "")]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return [*lines, ""]


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main(argv: list[str]) -> int:
    text = render()
    if argv:
        Path(argv[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
