"""dependsOn graphs (a profile's components), through the standard library's graphlib: the first cycle, and
each node's depth, which becomes its wave (Flux dependsOn chains, Argo CD sync waves)."""

from __future__ import annotations

import graphlib
from collections.abc import Mapping, Sequence


def _sorter(graph: Mapping[str, Sequence[str]], skip: frozenset[tuple[str, str]] = frozenset()
            ) -> graphlib.TopologicalSorter:
    """A sorter whose nodes come in the graph's order and whose edges run from a node to what it depends on, in
    the order written; edges to unknown nodes and those in `skip` are left out."""
    sorter: graphlib.TopologicalSorter = graphlib.TopologicalSorter()
    for node in graph:
        sorter.add(node)
    for node, needs in graph.items():
        for need in needs:
            if need in graph and (node, need) not in skip:
                sorter.add(need, node)  # `node` comes first in the walk, so graphlib's search follows dependsOn
    return sorter


def first_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """The first dependency cycle in name order, as [a, b, ..., a]; None when there is none."""
    ordered = {node: sorted(graph[node]) for node in sorted(graph)}
    try:
        _sorter(ordered).prepare()
    except graphlib.CycleError as cycle:
        return list(cycle.args[1])
    return None


def depths(graph: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """0 for a node that depends on nothing, else one more than its deepest dependency. In a graph with cycles
    (an error reported elsewhere), the edge that closes each cycle is left out."""
    skip: frozenset[tuple[str, str]] = frozenset()
    while True:
        try:
            order = list(_sorter(graph, skip).static_order())
            break
        except graphlib.CycleError as cycle:
            found = cycle.args[1]
            skip |= {(found[-2], found[-1])}
    depth: dict[str, int] = {}
    for node in reversed(order):  # static_order yields dependents first: walk from the leaves up
        needs = [n for n in graph[node] if n in graph and (node, n) not in skip]
        depth[node] = 1 + max(depth[n] for n in needs) if needs else 0
    return {node: depth[node] for node in graph}
