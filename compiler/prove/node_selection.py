"""Node selection that real nodes satisfy: every node selector easel renders for a pod must match the labels of
every device placement packed its pods on (the scheduler may put a pod on any of them), as those labels really
are.

A device's labels are the ones its node carries, when they are recorded (`facts.nodeLabels`, which
`easel inventory import` keeps). Without them, a device whose GPUs were gathered is taken to carry GPU Feature
Discovery's product label (`nvidia.com/gpu.product`, with `-SHARED` for time-slicing, GFD's default); a device
whose GPU product is known only from a manual tag carries no label anyone has seen, so a selector on it is an
error that says what to label. MIG instances are requested as the `mixed` strategy's resources, so a node
labelled `nvidia.com/mig.strategy: single` does not offer them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from compiler.diagnostics import Diagnostic, Location, Note, Subject, error
from compiler.model import Cluster, Device, gpu

if TYPE_CHECKING:  # plan runs this check: it may not import plan
    from compiler.plan import Booking, Release

MIG_STRATEGY_LABEL = "nvidia.com/mig.strategy"


@dataclass(frozen=True)
class Requirement:
    key: str
    values: tuple[str, ...]  # one of them


def _requirements(release: Release, booking: Booking) -> tuple[list[Requirement], gpu.GpuAsk | None]:
    component = next(c for c in release.components if c.name == booking.component)
    ask = next((t.output.gpu for t in component.traits if t.output.gpu is not None), None)
    found = [Requirement(k, (v,)) for k, v in booking.node_selector.items()]
    if ask is not None and len(ask.products) > 1 and release.gpu_allocation == gpu.DEVICE_PLUGIN:
        found.append(Requirement(gpu.PRODUCT_LABEL, ask.product_labels))
    return found, ask


def _labels(device: Device, pool: gpu.GpuPool | None) -> tuple[dict[str, str], bool]:
    """(the labels the device's node carries as far as easel knows, whether that is all of them)."""
    if device.node_labels is not None:
        return device.node_labels, True
    if pool is None or device.product_from_tags:
        return {}, False
    suffix = gpu.SHARED_SUFFIX if pool.mode == gpu.TIME_SLICING else ""
    return {gpu.PRODUCT_LABEL: pool.product + suffix}, False  # as gathered: GFD's labels


@dataclass(frozen=True)
class Mismatch:
    """Why a device's node would not take the pods, and the node label whose selection causes it (None: the
    GPUs asked, a MIG instance its node does not offer)."""
    reason: str
    key: str | None = None


def _problem(device: Device, pool: gpu.GpuPool | None, requirements: list[Requirement],
             ask: gpu.GpuAsk | None, dra: bool = False) -> Mismatch | None:
    """Why the device's node would not take the pods; None when it would."""
    labels, complete = _labels(device, pool)
    if ask is not None and ask.mode.startswith("mig-") and labels.get(MIG_STRATEGY_LABEL) == "single" \
            and not dra:
        return Mismatch(f"device {device.name!r} is labelled {MIG_STRATEGY_LABEL}=single, which offers MIG "
                        f"instances as nvidia.com/gpu, not {ask.resource_name}")
    for requirement in requirements:
        key = requirement.key
        wanted = " or ".join(f"{key}={v}" for v in requirement.values)
        if key in labels:
            if labels[key] not in requirement.values:
                return Mismatch(f"the pods select {wanted}; device {device.name!r} is labelled {key}={labels[key]}",
                                key)
        elif complete:
            return Mismatch(f"the pods select {wanted}; device {device.name!r} has no {key} label", key)
        elif key == gpu.PRODUCT_LABEL and pool is not None:
            return Mismatch(f"the pods select {wanted}, but the GPUs of device {device.name!r} are known only from "
                            "its tags: no one has seen that label on its node", key)
    return None


@dataclass(frozen=True)
class ReadyDevices:
    """A cluster's ready devices by name, and its GPU pools as placement counted them (inventory.py): worked out
    once per cluster, for all its releases."""
    by_name: dict[str, Device]
    pools: Mapping[str, gpu.GpuPool]


def ready_devices(cluster: Cluster, pools: Mapping[str, gpu.GpuPool]) -> ReadyDevices:
    """pools: the cluster's GPU pools (ClusterFacts.gpus)."""
    return ReadyDevices({d.name: d for d in cluster.devices if d.state == "ready"}, pools)


def check(cluster: Cluster, release: Release, allocations: Iterable[gpu.Allocation], devices: ReadyDevices,
          dra_names: Mapping[str, str] | None = None) -> list[Diagnostic]:
    """The release's bookings on this cluster whose node selection a device they were booked on does not
    satisfy. devices: the cluster's ready devices and its pools (ready_devices); dra_names: the products'
    names under DRA (inventory.dra_product_names), which the claims of a release under DRA select on."""
    ready = list(devices.by_name.values())
    taken = list(allocations)
    problems = []
    dra = release.gpu_allocation == gpu.DRA
    for booking in release.bookings:
        if dra:
            problems += _unnamed_under_dra(cluster, release, booking, taken, devices, dra_names)
        through_dra = [] if dra else _through_dra(booking, taken, devices)
        if through_dra:
            problems.append(error(
                "E604", f"component {booking.component!r}: the GPUs it was booked on cluster "
                f"{cluster.meta.name!r} are published through DRA (ResourceSlices), so pods requesting "
                f"{booking.gpus[0].resource} would never be scheduled", _gpu_trait_loc(release, booking),
                # an infrastructure stack is rendered once, for the device plugin, whatever the cluster says
                "an infrastructure stack requests GPUs through the device plugin only: keep its GPU trait off "
                "clusters that allocate GPUs through DRA" if release.kind == "stack" else None,
                notes=[Note(f"device {d.name!r}", d.loc) for d in through_dra[:3]],
                subject=Subject(release.kind, (release.id,), cluster.meta.name)))
            continue
        requirements, ask = _requirements(release, booking)
        if not requirements and not (ask and ask.mode.startswith("mig-") and not dra):
            continue
        if booking.gpus:
            candidates = _booked_devices(booking, taken, devices)
            failing = [(d, found) for d, pool in candidates
                       if (found := _problem(d, pool, requirements, ask, dra)) is not None]
        else:  # no GPUs: the pods may run on any worker; checked only when every worker's labels are known
            workers = [d for d in ready if d.role == "worker"]
            if not workers or any(d.node_labels is None for d in workers):
                continue
            reasons = [(d, _problem(d, None, requirements, ask, dra)) for d in workers]
            failing = [(d, found) for d, found in reasons if found is not None]
            if len(failing) < len(workers):
                continue
        if not failing:
            continue
        device, mismatch = failing[0]
        cause, symptom = _selected_at(release, booking, mismatch.key)
        problems.append(error(
            "E603", f"component {booking.component!r}: device {device.name!r}, where its pods were booked GPUs, "
            f"would not run them: {mismatch.reason}" if booking.gpus else
            f"component {booking.component!r}: no device would run its pods: {mismatch.reason}",
            cause, notes=[*symptom, *(Note(f"device {d.name!r}", d.loc) for d, _ in failing[:3])],
            subject=Subject(release.kind, (release.id,), cluster.meta.name)))
    return problems


def _selected_at(release: Release, booking: Booking, key: str | None) -> tuple[Location, list[Note]]:
    """Where the selection of node label key was written (the node-placement trait use that set it: the
    environment's, the profile's or the workload's; the gpu trait, for the product label it adds), and a note at
    the gpu trait when that is another place; the gpu trait (or the component) when key is None."""
    component = next(c for c in release.components if c.name == booking.component)
    setter = None
    for trait in component.traits:  # as the booking's selector is made (plan's _booking): a later trait's key wins
        if key is not None and trait.placement is not None and key in trait.placement.node_selector:
            setter = trait.written("nodeSelector", key) or (None, trait.loc)
        elif key == gpu.PRODUCT_LABEL and trait.output.gpu is not None and len(trait.output.gpu.products) == 1 \
                and release.gpu_allocation != gpu.DRA:
            setter = None
    if setter is None:
        return _gpu_trait_loc(release, booking), []
    asked = next((t.loc for t in component.traits if t.output.gpu is not None), None)
    return setter[1], [Note("the GPUs are asked here", asked)] if asked is not None and asked != setter[1] else []


def _booked_devices(booking: Booking, taken: list[gpu.Allocation],
                    devices: ReadyDevices) -> list[tuple[Device, gpu.GpuPool]]:
    """The devices placement packed the booking's pods on, each with the pool it took there: every one of them
    must run the pods, since the scheduler may put a pod on any of them."""
    return [(devices.by_name[name], devices.pools[allocation.pool])
            for allocation in taken if allocation.component == booking.component
            for name, count in allocation.devices
            if count and name in devices.by_name and allocation.pool in devices.pools]


def _gpu_trait_loc(release: Release, booking: Booking) -> Location:
    """Where a booking's GPU or node-placement trait is written (its component, without one)."""
    component = next(c for c in release.components if c.name == booking.component)
    trait = next((t for t in component.traits if t.output.gpu is not None or t.type == "node-placement"), None)
    return trait.loc if trait else component.loc


def _unnamed_under_dra(cluster: Cluster, release: Release, booking: Booking, taken: list[gpu.Allocation],
                       devices: ReadyDevices, dra_names: Mapping[str, str] | None
                       ) -> list[Diagnostic]:
    """Under DRA a claim selects a product by the name the driver publishes, known only from imported
    ResourceSlices: a booked product whose devices here do not publish that name would match no device."""
    problems = []
    for booking_gpus in booking.gpus:
        for product in booking_gpus.products:
            on = list({d.name: d for d, pool in _booked_devices(booking, taken, devices)
                       if pool.product == product}.values())
            name = (dra_names or {}).get(product)
            if not on or all(name and dict(f.dra).get("productName") == name
                             for d in on for f in d.gpus if f.product == product):
                continue
            problems.append(error(
                "E605", f"component {booking.component!r}: cluster {cluster.meta.name!r} allocates GPUs through "
                f"DRA, and the name NVIDIA's DRA driver publishes for {product} on device {on[0].name!r} is not "
                "known, so its claim's selector would match no device", _gpu_trait_loc(release, booking),
                f"import the cluster's ResourceSlices (`kubectl get resourceslices -o json > slices.json`, then "
                f"`easel inventory import --cluster {cluster.meta.name} slices.json`), or set "
                "`gpu.allocation: device-plugin` on the Cluster if its GPUs are not handed out through DRA",
                notes=[Note(f"device {d.name!r}", d.loc) for d in on[:3]],
                subject=Subject(release.kind, (release.id,), cluster.meta.name)))
    return problems


def _through_dra(booking: Booking, taken: list[gpu.Allocation], devices: ReadyDevices
                 ) -> list[Device]:
    """The devices a booking's GPUs were taken on, when every one of them hands its GPUs out through DRA (their
    GPU facts were imported from ResourceSlices); [] otherwise."""
    if not booking.gpus:
        return []
    on = list({d.name: d for d, _ in _booked_devices(booking, taken, devices)}.values())
    return on if on and all(d.gpus and all(f.dra for f in d.gpus) for d in on) else []
