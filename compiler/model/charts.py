"""A chart archive as easel read it (load/charts.py): what the proof and the checks of values need from inside it,
and its bytes, which Helm's engine renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
