"""A GPU ask that lists several products, or none, is placed on one or some of them; on each cluster its pods are
pinned to the products placement took there, so that no pod lands on a GPU easel counts as free. A list of
products is where to look, the allocation is what was booked: the pods' product affinity (or node selector, for
one product) is narrowed to it, and so is the booking plan writes. An ask for any product is pinned only where
the cluster offers its GPU resource in another product too (a pod asking for nvidia.com/gpu may land on any node
that has it, time-sliced ones included); where the taken product is all there is, nothing narrows.

Under DRA the products are in the claim template's CEL selectors: the template is written again from the
narrowed ask (the driver's names for the products, as imported), so a claim can be allocated only a device of a
product booked. The same rule keys on the DeviceClass a claim asks for instead of the resource a container
requests.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compiler.decide.resolve import ResolvedComponent, ResolvedTrait, ResolvedWorkload
from compiler.kube import cel
from compiler.model import gpu
from compiler.model.gpu import Allocation


@dataclass(frozen=True)
class ClusterOffer:
    """What pinning needs of a cluster, worked out once for all its workloads: per resource (DRA: DeviceClass),
    the product labels (DRA: product names) it is offered in, and under DRA the driver's names of the products."""
    dra: bool
    labels: Mapping[str, set[str]]
    dra_names: Mapping[str, str]


def cluster_offer(offered: Mapping[str, gpu.GpuPool], allocation: str,
                  dra_names: Mapping[str, str] | None = None) -> ClusterOffer:
    """offered: the cluster's GPU pools; dra_names: GPU product -> the DRA driver's name for it."""
    dra = allocation == gpu.DRA
    return ClusterOffer(dra, _labels_by_resource(offered, dra), dra_names or {})


def pinned(workload: ResolvedWorkload, taken: Sequence[Allocation], cluster: ClusterOffer
           ) -> tuple[ResolvedWorkload, tuple[tuple[str, tuple[str, ...]], ...]]:
    """The workload with each multi-product or any-product GPU ask narrowed to the products taken for its
    component on this cluster, and what was narrowed ((component, products)...: part of what makes two clusters
    plan it alike)."""
    if not taken:
        return workload, ()
    products: dict[str, set[str]] = {}
    for allocated in taken:
        products.setdefault(allocated.component, set()).add(allocated.product)
    narrowed: list[tuple[str, tuple[str, ...]]] = []
    components = []
    for component in workload.components:
        traits = tuple(_trait(trait, products.get(component.name, set()), component, narrowed, cluster)
                       for trait in component.traits)
        components.append(component if traits == component.traits else dataclasses.replace(component, traits=traits))
    if not narrowed:
        return workload, ()
    return dataclasses.replace(workload, components=tuple(components)), tuple(narrowed)


def _labels_by_resource(offered: Mapping[str, gpu.GpuPool], dra: bool) -> dict[str, set[str]]:
    """Per resource a container requests (DRA: DeviceClass a claim asks for), the product labels of the nodes
    that offer it on the cluster (DRA: the products)."""
    found: dict[str, set[str]] = {}
    for pool in offered.values():
        ask = gpu.GpuAsk(1, (pool.product,), None, gpu.MIG if pool.mode.startswith("mig-") else
                         gpu.TIME_SLICING if pool.mode == gpu.TIME_SLICING else gpu.EXCLUSIVE,
                         pool.mode.removeprefix("mig-") if pool.mode.startswith("mig-") else None)
        found.setdefault(_resource(ask, dra), set()).update(_labels(ask, dra))
    return found


def _resource(ask: gpu.GpuAsk, dra: bool) -> str:
    return gpu.device_class(ask) if dra else ask.resource_name


def _labels(ask: gpu.GpuAsk, dra: bool) -> tuple[str, ...]:
    return ask.products if dra else ask.product_labels


def _trait(trait: ResolvedTrait, products: set[str], component: ResolvedComponent,
           narrowed: list[tuple[str, tuple[str, ...]]], cluster: ClusterOffer) -> ResolvedTrait:
    ask = trait.output.gpu
    if ask is None or not products:
        return trait
    if ask.products:
        if len(ask.products) < 2 or not set(ask.products) - products:
            return trait
        keep = tuple(p for p in ask.products if p in products)
    else:
        keep = tuple(sorted(products))
        suffix = gpu.SHARED_SUFFIX if ask.mode == gpu.TIME_SLICING and not cluster.dra else ""
        kept = {product + suffix for product in keep}
        if not cluster.labels.get(_resource(ask, cluster.dra), set()) - kept:
            return trait  # the products taken are all the cluster offers this resource in
    pin = dataclasses.replace(ask, products=keep)
    narrowed.append((component.name, keep))
    if cluster.dra:
        objects = [_claim_pinned(o, pin, cluster.dra_names) for o in trait.output.objects]
        return dataclasses.replace(trait, output=dataclasses.replace(trait.output, gpu=pin, objects=objects))
    patches = [dataclasses.replace(p, body=_pod_pinned(p.body, ask.product_labels, pin.product_labels))
               for p in trait.output.patches]
    return dataclasses.replace(trait, output=dataclasses.replace(trait.output, gpu=pin, patches=patches))


def _claim_pinned(obj: dict[str, Any], pin: gpu.GpuAsk, dra_names: Mapping[str, str]) -> dict[str, Any]:
    """A gpu trait's ResourceClaimTemplate with its request's CEL selectors written for the narrowed ask."""
    if obj.get("kind") != "ResourceClaimTemplate":
        return obj
    obj = copy.deepcopy(obj)
    for request in obj["spec"]["spec"]["devices"]["requests"]:
        request["exactly"]["selectors"] = [{"cel": {"expression": expression}}
                                           for expression in cel.cel_selectors(pin, dict(dra_names))]
    return obj


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
