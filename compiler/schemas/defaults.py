"""A field's default is written once, as its schema's `default`, and filled in here, the one place: validate fills
a document's data after the schema check passes, so that the builders read every defaulted field as present; the
built-in definitions fill their properties from their own schemas, and a user definition's properties from its
`parameters` schema, the same way.

Only `properties`, `additionalProperties` and `items` are followed: what an `anyOf`, `oneOf` or `if` branch would
default depends on which branch holds, so they fill nothing (nor does a `$ref`: easel's schemas use none). A
present value is never replaced, `null` included; a mapping absent from the data gets its fields' defaults only
when its own schema gives it a default (`{}`).
"""

from __future__ import annotations

import copy
from typing import Any


def with_defaults(schema: dict[str, Any], value: Any) -> Any:
    """value with every missing property that has a `default` set to it, in every mapping and list item below.
    A copy along the filled paths: value itself (the cache's parsed file, the digest's input) is not changed."""
    if isinstance(value, dict):
        properties = schema.get("properties")
        others = schema.get("additionalProperties")
        if not isinstance(properties, dict) and not isinstance(others, dict):
            return value
        properties = properties or {}
        filled = {}
        for key, item in value.items():
            below = properties.get(key, others)
            filled[key] = with_defaults(below, item) if isinstance(below, dict) else item
        for key, below in properties.items():
            if key not in filled and isinstance(below, dict) and "default" in below:
                filled[key] = with_defaults(below, copy.deepcopy(below["default"]))
        return filled
    items = schema.get("items")
    if isinstance(value, list) and isinstance(items, dict):
        return [with_defaults(items, item) for item in value]
    return value


def defaults_of(schema: dict[str, Any]) -> dict[str, Any]:
    """What a mapping of this schema holds when the data leaves it out: its fields' defaults."""
    filled: dict[str, Any] = with_defaults(schema, {})
    return filled
