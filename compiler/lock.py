"""easel.lock: the decisions a compile made, committed so that the next compile keeps them.

    apiVersion: easel.dev/v1alpha1
    kind: Lock
    placements:                 # workload -> the clusters it runs on (sticky: kept while they stay eligible)
      nlp/support-bot: [dc-east-1]
    versions:                   # workload -> the profile version it runs (kept until `easel lock --update`)
      nlp/support-bot: llm-serving 1.3.0
    infrastructure:             # cluster -> the stacks easel deploys there for `requires.profiles`
      edge-fra-1: {gpu-operator: 24.9.0}
    rollouts:                   # workload -> a version on its way, wave by wave (environments with waves)
      nlp/support-bot: {from: 1.3.0, to: 1.4.0, wave: 1}
    profiles:                   # every profile version in use -> a digest of its content
      llm-serving 1.3.0: sha256:…

A published profile version must not change: a digest that no longer matches is an error. Each section is a
top-level key of its own, so that those to come (infrastructure per cluster, rollout state) sit beside them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from . import yamlio
from .diagnostics import Diagnostic, Location, error
from .schemas import API_VERSION

LOCK_FILE = "easel.lock"
HEADER = ("# Written by easel (compile, lock): commit it with output/. It keeps placements and versions stable "
          "between compiles.\n")
_WORKLOAD = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_PROFILE_VERSION = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])? \S+$"
_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["apiVersion", "kind"],
    "properties": {
        "apiVersion": {"const": API_VERSION},
        "kind": {"const": "Lock"},
        "placements": {"type": "object", "propertyNames": {"pattern": _WORKLOAD},
                       "additionalProperties": {"type": "array", "items": {"type": "string"}, "uniqueItems": True}},
        "versions": {"type": "object", "propertyNames": {"pattern": _WORKLOAD},
                     "additionalProperties": {"type": "string", "pattern": _PROFILE_VERSION}},
        "infrastructure": {"type": "object", "additionalProperties": {
            "type": "object", "additionalProperties": {"type": "string"}}},
        "rollouts": {"type": "object", "propertyNames": {"pattern": _WORKLOAD}, "additionalProperties": {
            "type": "object", "additionalProperties": False, "required": ["from", "to", "wave"],
            "properties": {"from": {"type": "string"}, "to": {"type": "string"},
                           "wave": {"type": "integer", "minimum": 1}}}},
        "profiles": {"type": "object", "propertyNames": {"pattern": _PROFILE_VERSION},
                     "additionalProperties": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"}},
    },
}


@dataclass(frozen=True)
class Lock:
    placements: dict[str, tuple[str, ...]] = field(default_factory=dict)  # "project/name" -> clusters
    versions: dict[str, tuple[str, str]] = field(default_factory=dict)  # "project/name" -> (profile, version)
    digests: dict[tuple[str, str], str] = field(default_factory=dict)  # (profile, version) -> "sha256:…"
    infrastructure: dict[str, dict[str, str]] = field(default_factory=dict)  # cluster -> stack -> version
    rollouts: dict[str, "Rollout"] = field(default_factory=dict)  # "project/name" -> its rollout in progress


@dataclass(frozen=True)
class Rollout:
    """A workload moving from one profile version to another, wave by wave: waves 1..wave run `to`."""
    from_version: str
    to_version: str
    wave: int


def digest(document: Any) -> str:
    """A profile version's content digest: of its data, so comments and formatting do not count."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def parse(text: str | None) -> tuple[Lock, list[Diagnostic]]:
    """The lock in text (None: there is no lock yet)."""
    from . import schemacheck

    if text is None:
        return Lock(), []
    where = Location(LOCK_FILE)
    documents, problems = yamlio.parse(text)
    if problems or len(documents) != 1 or not isinstance(documents[0].data, dict):
        return Lock(), [error("E108", f"{LOCK_FILE} cannot be read" + (f": {problems[0].message}" if problems else ""),
                              Location(LOCK_FILE, line=problems[0].line if problems else None,
                                       column=problems[0].column if problems else None))]
    data: Any = documents[0].data
    found = schemacheck.check(schemacheck.validator(_SCHEMA), data, where)
    if found:
        return Lock(), [error("E108", f"{LOCK_FILE}: {d.message}", d.location) for d in found]
    return Lock(
        placements={w: tuple(clusters) for w, clusters in (data.get("placements") or {}).items()},
        versions={w: tuple(text.split(" ", 1)) for w, text in (data.get("versions") or {}).items()},
        digests={tuple(key.split(" ", 1)): value for key, value in (data.get("profiles") or {}).items()},
        infrastructure={cluster: dict(stacks) for cluster, stacks in (data.get("infrastructure") or {}).items()},
        rollouts={w: Rollout(str(r["from"]), str(r["to"]), r["wave"]) for w, r in (data.get("rollouts") or {}).items()},
    ), []


def dump(lock: Lock) -> str:
    data: dict[str, Any] = {"apiVersion": API_VERSION, "kind": "Lock"}
    data["placements"] = {workload: list(clusters) for workload, clusters in sorted(lock.placements.items())}
    data["versions"] = {workload: f"{profile} {version}" for workload, (profile, version) in sorted(lock.versions.items())}
    data["infrastructure"] = {cluster: dict(sorted(stacks.items()))
                              for cluster, stacks in sorted(lock.infrastructure.items()) if stacks}
    data["rollouts"] = {w: {"from": r.from_version, "to": r.to_version, "wave": r.wave}
                        for w, r in sorted(lock.rollouts.items())}
    data["profiles"] = {f"{profile} {version}": value for (profile, version), value in sorted(lock.digests.items())}
    return HEADER + yamlio.dump(data)
