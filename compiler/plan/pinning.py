"""A GPU ask that lists several products, or none, is placed on one or some of them; on each cluster its pods are
pinned to the products placement took there, so that no pod lands on a GPU easel counts as free. A list of
products is where to look, the allocation is what was booked: the pods' product affinity (or node selector, for
one product) is narrowed to it, and so is the booking plan writes. An ask for any product is pinned only where
the cluster offers its GPU resource in another product too (a pod asking for nvidia.com/gpu may land on any node
that has it, time-sliced ones included); where the taken product is all there is, nothing narrows.

Under DRA the ask's products are in a claim template's CEL selectors, written before placement: not narrowed
here yet.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from compiler.decide.resolve import ResolvedComponent, ResolvedTrait, ResolvedWorkload
from compiler.model import gpu
from compiler.model.gpu import Allocation


def pinned(workload: ResolvedWorkload, taken: Sequence[Allocation], allocation: str,
           offered: Mapping[str, gpu.GpuPool] | None = None
           ) -> tuple[ResolvedWorkload, tuple[tuple[str, tuple[str, ...]], ...]]:
    """The workload with each multi-product or any-product GPU ask narrowed to the products taken for its
    component on this cluster, and what was narrowed ((component, products)...: part of what makes two clusters
    plan it alike). offered: the cluster's GPU pools."""
    if allocation == gpu.DRA or not taken:
        return workload, ()
    labels = _labels_by_resource(offered or {})
    products: dict[str, set[str]] = {}
    for allocated in taken:
        products.setdefault(allocated.component, set()).add(allocated.product)
    narrowed: list[tuple[str, tuple[str, ...]]] = []
    components = []
    for component in workload.components:
        traits = tuple(_trait(trait, products.get(component.name, set()), component, narrowed, labels)
                       for trait in component.traits)
        components.append(component if traits == component.traits else dataclasses.replace(component, traits=traits))
    if not narrowed:
        return workload, ()
    return dataclasses.replace(workload, components=tuple(components)), tuple(narrowed)


def _labels_by_resource(offered: Mapping[str, gpu.GpuPool]) -> dict[str, set[str]]:
    """Per resource a container requests, the product labels of the nodes that offer it on the cluster."""
    found: dict[str, set[str]] = {}
    for pool in offered.values():
        ask = gpu.GpuAsk(1, (pool.product,), None, gpu.MIG if pool.mode.startswith("mig-") else
                         gpu.TIME_SLICING if pool.mode == gpu.TIME_SLICING else gpu.EXCLUSIVE,
                         pool.mode.removeprefix("mig-") if pool.mode.startswith("mig-") else None)
        found.setdefault(ask.resource_name, set()).update(ask.product_labels)
    return found


def _trait(trait: ResolvedTrait, products: set[str], component: ResolvedComponent,
           narrowed: list[tuple[str, tuple[str, ...]]], labels: Mapping[str, set[str]]) -> ResolvedTrait:
    ask = trait.output.gpu
    if ask is None or not products:
        return trait
    if ask.products:
        if len(ask.products) < 2 or not set(ask.products) - products:
            return trait
        keep = tuple(p for p in ask.products if p in products)
    else:
        keep = tuple(sorted(products))
        if not labels.get(ask.resource_name, set()) - set(dataclasses.replace(ask, products=keep).product_labels):
            return trait  # the products taken are all the cluster offers this resource in
    pin = dataclasses.replace(ask, products=keep)
    patches = [dataclasses.replace(p, body=_pod_pinned(p.body, ask.product_labels, pin.product_labels))
               for p in trait.output.patches]
    narrowed.append((component.name, keep))
    return dataclasses.replace(trait, output=dataclasses.replace(trait.output, gpu=pin, patches=patches))


def _pod_pinned(body: dict[str, Any], asked: tuple[str, ...], booked: tuple[str, ...]) -> dict[str, Any]:
    """A gpu trait's patch with its product affinity narrowed: a node selector for one product, as the trait
    writes one, else the affinity with fewer values."""
    pod = ((body.get("spec") or {}).get("template") or {}).get("spec")
    if not isinstance(pod, dict) or not (_selects(pod.get("affinity"), asked) if asked else _unpinned(pod)):
        return body
    body = copy.deepcopy(body)
    pod = body["spec"]["template"]["spec"]
    pod.pop("affinity", None)
    if len(booked) == 1:
        pod["nodeSelector"] = {**(pod.get("nodeSelector") or {}), gpu.PRODUCT_LABEL: booked[0]}
    else:
        pod["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": gpu.PRODUCT_LABEL, "operator": "In", "values": list(booked)}]}]}}}
    return body


def _unpinned(pod: dict[str, Any]) -> bool:
    """Whether an any-product ask's pod names no product and no affinity this would replace."""
    return gpu.PRODUCT_LABEL not in (pod.get("nodeSelector") or {}) and "affinity" not in pod


def _selects(affinity: Any, labels: tuple[str, ...]) -> bool:
    """Whether the affinity is the gpu trait's: the product label, In, exactly the asked products."""
    terms = (((affinity or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
             or {}).get("nodeSelectorTerms") if isinstance(affinity, dict) else None
    return terms == [{"matchExpressions": [{"key": gpu.PRODUCT_LABEL, "operator": "In", "values": list(labels)}]}]
