"""Custom resources against the CustomResourceDefinitions a cluster's tree installs: every custom resource of a
kind whose CRD (apiextensions.k8s.io/v1) is among the objects the tree applies must be one the API server accepts
under that CRD, in a version it serves (`served: true`), valid against that version's `openAPIV3Schema`.

The schema is read as the API server reads a structural schema, not as plain JSON Schema:
- unknown fields are pruned (or kept: `x-kubernetes-preserve-unknown-fields`), never refused: JSON Schema's default,
  only `additionalProperties: false` refuses them;
- a field a schema does not mark `nullable` is pruned when null, so a null is accepted there (unless required);
- `x-kubernetes-int-or-string` takes an integer or a string;
- a required field that has a `default` is defaulted before validation, so it may be left out;
- what the API server checks with rules easel does not run (`format`, `x-kubernetes-validations`' CEL, list
  types) is not checked, nor a `pattern` Python's regular expressions cannot read: never a false refusal.

A kind whose CRD the tree does not hold (the cluster has it, `crds`; a chart the engine renders installs it) is
taken on trust: nothing here can see its schema. Each CRD version's schema is compiled once (by its content), and
each distinct object is checked once against the CRDs that define its kind.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from compiler.kube.api import crd_defines, group_of, is_custom
from compiler.plan import ClusterPlan
from compiler.prove.objects import Parsed, release_component_objects
from compiler.prove.schemas import SchemaMemo

CRD_API_VERSION = "apiextensions.k8s.io/v1"
CRD_KIND = "CustomResourceDefinition"

# (API group, kind) -> the CustomResourceDefinitions of the tree that define it
Definitions = Mapping[tuple[str, str], tuple[dict[str, Any], ...]]


def installed(plan: ClusterPlan, files: dict[str, str], layers: Mapping[str, dict[str, Any]],
              parsed: Parsed) -> Definitions:
    """The CRDs the cluster's tree applies (every component's folder, as proven), by the kind they define.
    layers: the cluster's Flux Kustomizations by the folder they apply (as tree.py reads them)."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    if not any(CRD_KIND in text for text in files.values()):
        return {}  # most trees hold no CRD: a text search, far quicker than reading every folder again
    for release in plan.releases:
        for component in release.components:
            for _, obj in release_component_objects(files, plan.cluster, release, component, dict(layers),
                                                    parsed).objects:
                if obj.get("kind") == CRD_KIND and obj.get("apiVersion") == CRD_API_VERSION:
                    group, kind = crd_defines(obj)
                    if group is not None and kind is not None:
                        same = found.setdefault((group, kind), [])
                        same += [] if any(crd is obj for crd in same) else [obj]
    return {key: tuple(crds) for key, crds in found.items()}


def rejection(obj: dict[str, Any], crds: Definitions, memo: SchemaMemo) -> str | None:
    """Why the API server would reject a custom resource under the CRDs of the tree that define its kind, or
    None (also when the tree holds none: the kind is taken on trust). Two CRDs of one kind (two releases ship
    it): the object must suit both, as either may be the one applied last."""
    if not is_custom(obj):
        return None
    defining = crds.get((group_of(str(obj.get("apiVersion"))), str(obj.get("kind"))))
    if not defining:
        return None
    key = (id(obj), tuple(id(crd) for crd in defining))
    if key not in memo.verdicts:
        why = next((why for crd in defining if (why := _against(obj, crd, memo)) is not None), None)
        memo.verdicts[key] = ((obj, defining), why)  # obj and the CRDs kept with it: their ids stay theirs
    return memo.verdicts[key][1]


def _against(obj: dict[str, Any], crd: dict[str, Any], memo: SchemaMemo) -> str | None:
    name = (crd.get("metadata") or {}).get("name")
    version = str(obj.get("apiVersion")).rpartition("/")[2]
    versions = [v for v in (crd.get("spec") or {}).get("versions") or () if isinstance(v, dict)]
    entry = next((v for v in versions if v.get("name") == version), None)
    if entry is None or entry.get("served") is not True:
        served = ", ".join(str(v.get("name")) for v in versions if v.get("served") is True) or "none"
        return f"its CRD {name} serves no version {version} (it serves: {served})"
    schema = (entry.get("schema") or {}).get("openAPIV3Schema")
    if not isinstance(schema, dict):
        return None  # no schema: the API server takes any content
    key = (id(crd), version)
    if key not in memo.compiled:  # by the CRD object first: it is shared by the clusters whose trees hold it
        memo.compiled[key] = (crd, _compiled(json.dumps(schema, sort_keys=True, default=str)))
    validator = memo.compiled[key][1]
    if isinstance(validator, str):
        return f"its CRD {name} has no valid schema at {version}: {validator}"
    error = best_match(validator.iter_errors(_without_nulls(obj, validator.schema)))
    if error is None:
        return None
    where = ".".join(str(part) for part in error.absolute_path) or "the object"
    return f"{where}: {error.message} (CRD {name}, version {version})"


@lru_cache(maxsize=256)
def _compiled(schema: str) -> Draft202012Validator | str:
    """A CRD version's schema (its JSON text, the cache's key) compiled as the API server reads it, or why it
    cannot be."""
    converted = _structural(json.loads(schema))
    # not Draft202012Validator.check_schema: seconds on a large CRD (Argo CD's ApplicationSet), and the CRD's own
    # object is checked against Kubernetes' schema for CRDs; only an unknown `type` is left to find (below)
    unknown = sorted(_unknown_types(converted))
    return f"unknown type {unknown[0]!r}" if unknown else Draft202012Validator(converted)


_CHILDREN = ("items", "additionalProperties", "not")
_LISTS = ("allOf", "anyOf", "oneOf")


def _structural(schema: Any) -> Any:
    """An OpenAPI v3 schema of a CRD as the JSON Schema the API server's validation amounts to (this module's
    docstring says how)."""
    if not isinstance(schema, dict):
        return schema
    found = copy.copy(schema)
    if isinstance(found.get("properties"), dict):
        found["properties"] = {key: _structural(value) for key, value in found["properties"].items()}
        if isinstance(found.get("required"), list):
            defaulted = {key for key, value in found["properties"].items() if isinstance(value, dict)
                         and "default" in value}
            found["required"] = [key for key in found["required"] if key not in defaulted]
    for key in _CHILDREN:
        if key in found:
            found[key] = _structural(found[key])
    for key in _LISTS:
        if isinstance(found.get(key), list):
            found[key] = [_structural(item) for item in found[key]]
    if found.get("x-kubernetes-int-or-string") is True and "type" not in found:
        found["type"] = ["integer", "string"]
    if found.get("nullable") is True:
        if isinstance(found.get("type"), str | list):
            found["type"] = [*([found["type"]] if isinstance(found["type"], str) else found["type"]), "null"]
        if isinstance(found.get("enum"), list):
            found["enum"] = [*found["enum"], None]
    if isinstance(found.get("pattern"), str) and not _readable(found["pattern"]):
        del found["pattern"]
    return found


_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean", "null"})


def _unknown_types(schema: Any) -> set[str]:
    """The values of `type` anywhere in a schema that JSON Schema does not know."""
    if isinstance(schema, list):
        return set().union(*(_unknown_types(item) for item in schema))
    if not isinstance(schema, dict):
        return set()
    kind = schema.get("type")
    found = {str(t) for t in (kind if isinstance(kind, list) else [kind]) if kind is not None and t not in _TYPES}
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "$defs"):
            found |= set().union(*(_unknown_types(v) for v in value.values())) if isinstance(value, dict) else set()
        elif key in (*_CHILDREN, *_LISTS):
            found |= _unknown_types(value)
    return found


def _without_nulls(value: Any, schema: Any) -> Any:
    """The object as the API server validates it: a null in a field whose schema is not `nullable` pruned (a
    required one is then missing)."""
    if isinstance(value, list) and isinstance(schema, dict):
        return [_without_nulls(item, schema.get("items")) for item in value]
    if not isinstance(value, dict) or not isinstance(schema, dict):
        return value
    properties, others = schema.get("properties"), schema.get("additionalProperties")
    properties = properties if isinstance(properties, dict) else {}
    kept = {}
    for key, item in value.items():
        field = properties.get(key, others if isinstance(others, dict) else None)
        if item is None and isinstance(field, dict) and field.get("nullable") is not True:
            continue
        kept[key] = _without_nulls(item, field)
    return kept


def _readable(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True
