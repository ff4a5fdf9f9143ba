"""A chart archive as easel read it (load/charts.py): what the proof and the checks of values need from inside it,
and its bytes, which Helm's engine renders."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

COMMIT_PATTERN = r"^[0-9a-f]{40}([0-9a-f]{24})?$"  # a Git commit's id (SHA-1, or SHA-256)
_COMMIT = re.compile(COMMIT_PATTERN)


@dataclass(frozen=True)
class ChartArchive:
    file: str  # where it was read, relative to the repository (or easel's cache): its name in diagnostics
    name: str  # Chart.yaml's
    version: str
    digest: str  # "sha256:<hex>" of the archive's bytes
    data: bytes = field(repr=False, compare=False)
    kube_version: str | None = None  # Chart.yaml's kubeVersion constraint
    values: dict[str, Any] = field(default_factory=dict, compare=False)  # values.yaml
    values_schema: dict[str, Any] | None = field(default=None, compare=False)  # values.schema.json
    crds: tuple[dict[str, Any], ...] = field(default=(), compare=False)  # the CRDs in crds/, its subcharts' too
    calls_lookup: bool = False  # a template calls `lookup` (the cluster renders it against its live objects)
    problems: tuple[str, ...] = ()  # why it cannot be rendered as it is (a dependency it lacks)
    # an in-house chart: its folder's files (path inside the chart, text), written into each tree that runs it
    sources: tuple[tuple[str, str], ...] = field(default=(), compare=False)


def archive_path(folder: str, repository: str, chart: str, version: str) -> str:
    """Where `easel charts pull` stores a chart version: names checked by their schemas (a DNS label, a chart
    name, a version), so never a path out of the folder."""
    return f"{folder}/{repository}/{chart}-{version}.tgz"


def git_archive_path(folder: str, repository: str, chart: str, ref: str) -> str:
    """Where `easel charts pull` stores a Git Repository's chart folder read at its ref: `<chart>@<ref>.tgz`,
    chart the folder's name (a chart name: no `/`, no `@`) and the ref percent-encoded (`feature/x` is
    `feature%2Fx`), so the name is never a path and still gives the ref back (git_archive_key)."""
    return f"{folder}/{repository}/{chart}@{quote(ref, safe='')}.tgz"


def git_archive_key(name: str) -> tuple[str, str] | None:
    """(chart, ref) of a file name git_archive_path gives; None when it is not one (no `@`)."""
    if "@" not in name or not name.endswith(".tgz"):
        return None
    chart, _, ref = name[:-len(".tgz")].partition("@")
    return chart, unquote(ref)


def git_commit(pinned: str | None) -> str | None:
    """What easel.lock pins for what a chart's engine fetches (Decisions.chart_manifests), when it is a Git commit
    (a Git Repository's chart): the commit; else None (nothing pinned, or an OCI manifest's digest)."""
    return pinned if pinned is not None and _COMMIT.fullmatch(pinned) else None
