"""easel.lock: the decisions a compile made, committed so that the next compile keeps them.

    apiVersion: easel.dev/v1alpha1
    kind: Lock
    placements:                 # workload -> the clusters it runs on (sticky: kept while they stay eligible)
      nlp/support-bot: [dc-east-1]

The format leaves room for the sections that come with versions and rollouts (resolved profile versions,
infrastructure per cluster, profile digests, rollout state): each is a top-level key of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import yamlio
from .diagnostics import Diagnostic, Location, error
from .schemas import API_VERSION

LOCK_FILE = "easel.lock"
HEADER = "# Written by easel compile; commit it with output/. It keeps placements stable between compiles.\n"
_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["apiVersion", "kind"],
    "properties": {
        "apiVersion": {"const": API_VERSION},
        "kind": {"const": "Lock"},
        "placements": {"type": "object",
                       "propertyNames": {"pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                       "additionalProperties": {"type": "array", "items": {"type": "string"}, "uniqueItems": True}},
    },
}


@dataclass(frozen=True)
class Lock:
    placements: dict[str, tuple[str, ...]] = field(default_factory=dict)  # "project/name" -> clusters


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
    placements = {workload: tuple(clusters) for workload, clusters in (data.get("placements") or {}).items()}
    return Lock(placements=placements), []


def dump(lock: Lock) -> str:
    data: dict[str, Any] = {"apiVersion": API_VERSION, "kind": "Lock"}
    data["placements"] = {workload: list(clusters) for workload, clusters in sorted(lock.placements.items())}
    return HEADER + yamlio.dump(data)
