"""The strategic merge, as kustomize does it: Kubernetes' own merge keys and strategies, read from its OpenAPI
schemas (data/merge-keys.json, made by tests/merge_keys.py), so that a trait gives the same object on easel's
own objects as kustomize gives on a chart or folder (Flux post-renderers, the Argo CD wrapper).

- `apply(obj, patch)`: a patch applied to an object. Maps merge; a list with a merge key (containers by name,
  ports by containerPort, volumeMounts by mountPath, ...) merges item by item, the patch's items first (as
  kustomize orders them); a list of plain values with the
  merge strategy (finalizers) gains the new values; every other list is replaced (tolerations among them). A
  container named "*" in a patch applies to every container of the object. A kind the schemas do not know
  merges as kustomize merges it without a schema: maps merge, lists are replaced.
- `combine(a, b)`: two patches for the same objects made into one, as kustomize would apply them one after the
  other, but for tolerations, which a component's traits add up (a `gpu` trait's and a `node-placement`
  trait's), and "*", which stays a name of its own.
"""

from __future__ import annotations

import copy
from typing import Any

from compiler.kube.api import openapi_table
from compiler.model.parts import ALL_CONTAINERS

ADDED_UP = ("tolerations",)  # lists a component's traits add to one another when combined



def type_of(api_version: str | None, kind: str | None) -> str | None:
    """The OpenAPI type of a kind, when Kubernetes has it."""
    return openapi_table()["kinds"].get(f"{api_version}/{kind}")


def _field(type_name: str | None, field: str) -> tuple[str | None, str | None, str]:
    """(the field's type, its merge key, its patch strategy) below type_name."""
    found = openapi_table()["types"].get(type_name or "", {}).get(field)
    return (found[0], found[1], found[2] or "") if found else (None, None, "")


def apply(obj: Any, patch: Any) -> Any:
    """obj with patch applied; neither argument is changed."""
    return _merge(obj, patch, type_of(_text(obj, "apiVersion"), _text(obj, "kind")), wildcard=True, adding=False)


def apply_literally(obj: Any, patch: Any) -> Any:
    """apply, with "*" a container name like any other, as kustomize itself applies a patch (a chart's
    post-renderer patches, read back from the tree)."""
    return _merge(obj, patch, type_of(_text(obj, "apiVersion"), _text(obj, "kind")), wildcard=False, adding=False)


def combine(first: Any, second: Any, api_version: str | None, kind: str | None) -> Any:
    """One patch that does what first and then second do to an object of this kind (tolerations added up)."""
    return _merge(first, second, type_of(api_version, kind), wildcard=False, adding=True)


def apply_as(obj: Any, patch: Any, type_name: str) -> Any:
    """apply, for a part of an object of the given OpenAPI type (a pod template inside a custom kind)."""
    return _merge(obj, patch, type_name, wildcard=True, adding=False)


def combine_as(first: Any, second: Any, type_name: str) -> Any:
    return _merge(first, second, type_name, wildcard=False, adding=True)


def _text(obj: Any, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


def _merge(base: Any, patch: Any, type_name: str | None, wildcard: bool, adding: bool) -> Any:
    if not (isinstance(base, dict) and isinstance(patch, dict)):
        return copy.deepcopy(patch)
    out = dict(base)
    for key, value in patch.items():
        if value is None and not adding:  # a strategic merge patch's null deletes the key (combined, it stays one)
            out.pop(key, None)
            continue
        if key not in out:
            out[key] = copy.deepcopy(value) if adding else _without_nulls(value)
            continue
        child, merge_key, strategy = _field(type_name, key)
        current = out[key]
        if isinstance(current, list) and isinstance(value, list):
            if adding and key in ADDED_UP:
                out[key] = current + [copy.deepcopy(item) for item in value if item not in current]
            elif merge_key:
                out[key] = _merge_list(current, value, merge_key, child, wildcard, adding)
            elif "merge" in strategy:  # plain values, such as finalizers: the new ones are added
                out[key] = current + [copy.deepcopy(item) for item in value if item not in current]
            else:
                out[key] = copy.deepcopy(value)
        else:
            out[key] = _merge(current, value, child, wildcard, adding)
    return out


def _without_nulls(value: Any) -> Any:
    """A new part a patch adds, without the keys its nulls would delete (there is nothing there to delete)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return copy.deepcopy(value)


def _merge_list(base: list, patch: list, merge_key: str, type_name: str | None, wildcard_on: bool,
                adding: bool) -> list:
    """kustomize's order: the patch's items first, in the patch's order (merged into the base's item of the same
    key), then the base's other items in their order. A "*" item is merged into every base item in place."""
    items = [dict(item) if isinstance(item, dict) else item for item in base]
    keyed = [item for item in patch if isinstance(item, dict) and merge_key in item]
    for item in keyed:
        if wildcard_on and item[merge_key] == ALL_CONTAINERS:
            body = {k: v for k, v in item.items() if k != merge_key}
            items = [_merge(existing, body, type_name, wildcard_on, adding) if isinstance(existing, dict) else existing
                     for existing in items]
    first = []
    for item in keyed:
        if wildcard_on and item[merge_key] == ALL_CONTAINERS:
            continue
        index = next((i for i, existing in enumerate(items)
                      if isinstance(existing, dict) and existing.get(merge_key) == item[merge_key]), None)
        added = copy.deepcopy(item) if adding else _without_nulls(item)
        first.append(added if index is None else _merge(items.pop(index), item, type_name, wildcard_on, adding))
    unkeyed = [copy.deepcopy(item) for item in patch if not (isinstance(item, dict) and merge_key in item)]
    return first + items + unkeyed
