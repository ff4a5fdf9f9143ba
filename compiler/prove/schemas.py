"""Kubernetes' own schemas for the cluster's version: every object of a built-in kind that a tree applies must be
one the cluster's API server accepts (strict: no unknown field), of an API version that Kubernetes serves. The
schemas are those kubernetes-validate ships, one set per minor version (a pinned runtime dependency, read from its
package: no network), each compiled once. A cluster older than the oldest set is checked against the oldest, and
says so. Custom resources are checked against the CRDs of the tree (custom_schemas.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource

from compiler.kube.api import is_custom

_SCHEMAS = "kubernetes-json-schema"


@cache
def _folders() -> dict[tuple[int, int], str]:
    """The strict schema folder kubernetes-validate has for each minor version (v1.33.0-local-strict)."""
    found = {}
    for entry in resources.files("kubernetes_validate").joinpath(_SCHEMAS).iterdir():
        if entry.name.endswith("-local-strict"):
            major, minor = entry.name.removeprefix("v").split("-")[0].split(".")[:2]
            found[(int(major), int(minor))] = entry.name
    return found


def _shipped() -> tuple[tuple[int, int], ...]:
    """The minor versions kubernetes-validate has schemas for, oldest first."""
    return tuple(sorted(_folders()))


@cache
def _registry(version: str) -> Registry:
    folder = _folders()[_minor(version)]
    text = resources.files("kubernetes_validate").joinpath(_SCHEMAS, folder, "_definitions.json").read_text()
    return Resource.from_contents(json.loads(text)) @ Registry()


@cache
def _validator(version: str, api_version: str, kind: str) -> Draft202012Validator | None:
    """The strict schema of a kind at a Kubernetes version, compiled once (None: Kubernetes has no such kind in
    that API version then). Named as kubernetes-validate names its files: rbac.authorization.k8s.io/v1 ->
    rbac-v1."""
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    file = resources.files("kubernetes_validate").joinpath(_SCHEMAS, _folders()[_minor(version)],
                                                           f"{kind.lower()}-{api}.json")
    if not file.is_file():
        return None
    schema = json.loads(file.read_text())
    return Draft202012Validator(schema, registry=Resource.from_contents(schema) @ _registry(version))


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def schema_version(kubernetes: str | None) -> tuple[str, str | None]:
    """The schema set for a cluster's Kubernetes version ("1.33.2" -> "1.33"), and a note when it is not the
    cluster's own (older than every set: the oldest; newer: the newest; unknown: the newest)."""
    shipped = _shipped()
    oldest, newest = shipped[0], shipped[-1]
    if kubernetes is None:
        return f"{newest[0]}.{newest[1]}", None
    major, minor = (int(part) for part in kubernetes.split(".")[:2])
    if (major, minor) < oldest:
        return f"{oldest[0]}.{oldest[1]}", (f"Kubernetes {kubernetes} is older than the oldest schemas easel has "
                                             f"({oldest[0]}.{oldest[1]}): its objects are checked against those")
    if (major, minor) > newest:
        return f"{newest[0]}.{newest[1]}", None
    return f"{major}.{minor}", None


@dataclass
class SchemaMemo:
    """The verdict on each distinct object (they are shared between the clusters that plan a release alike) at
    each Kubernetes version, or under each set of CRDs (custom_schemas.py): checked once."""
    verdicts: dict[tuple[int, Any], tuple[Any, str | None]] = field(default_factory=dict)
    # each CRD object's schema at a version, compiled (custom_schemas.py), the CRD kept with it
    compiled: dict[tuple[int, str], tuple[Any, Any]] = field(default_factory=dict)


def rejection(obj: dict[str, Any], version: str, memo: SchemaMemo) -> str | None:
    """Why the API server of that Kubernetes version would reject the object, or None."""
    if is_custom(obj):
        return None
    key = (id(obj), version)
    if key not in memo.verdicts:
        memo.verdicts[key] = (obj, _rejection(obj, version))  # obj kept: its id stays its own
    return memo.verdicts[key][1]


def _rejection(obj: dict[str, Any], version: str) -> str | None:
    validator = _validator(version, str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    if validator is None:
        return f"Kubernetes {version} serves no {obj.get('kind')} in {obj.get('apiVersion')}"
    error = best_match(validator.iter_errors(obj))
    if error is None:
        return None
    where = ".".join(str(part) for part in error.absolute_path) or "the object"
    return f"{where}: {error.message}"
