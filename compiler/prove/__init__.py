"""Stage prove: what was planned and rendered, checked against what a cluster has before anything is written.

Today's proofs: every node selector a pod gets matches the labels of a device it booked (node_selection.py,
E603), and every custom resource comes after the CRD that defines it (crds.py, E412). `kustomize.py` builds a
cluster's tree as `kubectl kustomize` does (`easel build`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from compiler.decide.inventory import ClusterFacts
from compiler.diagnostics import Diagnostics
from compiler.plan import Plans
from compiler.prove import crds, node_selection
from compiler.record.decisions import Decisions


def prove(plans: Plans, fleet: Mapping[str, ClusterFacts], decisions: Decisions,
          dra_products: Iterable[tuple[str, str]]) -> Diagnostics:
    """The problems a cluster would show with what is planned for it."""
    diagnostics = Diagnostics()
    lacking: dict[Any, Any] = {}  # crds.check's answers for releases planned alike
    dra_names = dict(dra_products)
    for name, cluster_plan in plans.clusters.items():
        facts = fleet[name]
        booked = [release for release in cluster_plan.workloads if release.bookings]
        devices = node_selection.ready_devices(facts.cluster) if booked else []
        for release in booked:
            allocations = decisions.workload(release.id).allocations.get(name, ())
            diagnostics.extend(node_selection.check(facts.cluster, release, allocations, devices, dra_names))
        diagnostics.extend(crds.check(cluster_plan, facts.crds, lacking))
    return diagnostics
