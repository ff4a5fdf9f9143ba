"""What resolving produces: a workload (or an infrastructure stack) at one profile version, with its effective
parameters and every component rendered with its traits. Values only: a definition that reads `cluster` is
kept as a ClusterTemplate for the plan stage to render per cluster."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from compiler.decide.resolve.chart_pods import FoundTarget
from compiler.decide.resolve.params import EffectiveParameter
from compiler.diagnostics import Location
from compiler.model import (
    DEFAULT_RELEASE,
    Environment,
    Project,
    ReleaseOptions,
    TraitUse,
    Workload,
    WorkloadProfile,
)
from compiler.model.gpu import DEVICE_PLUGIN, DRA, GpuDemand
from compiler.model.parts import ComponentOutput, ExternalSource, NodePlacement, TraitOutput

_ABSENT = object()
STACKS = "infrastructure"  # a stack's group: what its templates see as project and environment, its folder


@dataclass(frozen=True)
class ResolvedTrait:
    type: str
    properties: dict[str, Any]  # as rendered, free-form: a built-in's fields are read typed (placement)
    output: TraitOutput
    loc: Location
    origin: str = "profile"  # who added it: profile | workload | environment (its defaults, for every component)
    placement: NodePlacement | None = None  # node-placement's fields, typed
    # every use of its type merged into it, in order (the last is the one at loc): where each property was written
    uses: tuple[TraitUse, ...] = field(default=(), compare=False, hash=False)

    def written(self, *path: str) -> tuple[Any, Location] | None:
        """The property at path as the last use that sets it wrote it (a template not yet filled in), and where;
        None when no use writes it (a default)."""
        for use in reversed(self.uses):
            value: Any = use.properties
            for key in path:
                value = value.get(key, _ABSENT) if isinstance(value, dict) else _ABSENT
            if value is not _ABSENT:
                return value, use.loc.at("properties", *path)
        return None


@dataclass(frozen=True)
class ResolvedComponent:
    name: str
    type: str
    instance: str  # "<workload>-<component>", at most 53 characters (a Helm release name)
    properties: dict[str, Any]  # as rendered, free-form: a built-in's fields are read typed (external)
    output: ComponentOutput
    traits: tuple[ResolvedTrait, ...]
    depends_on: tuple[str, ...]
    wave: int  # 0 for components without dependencies, else one more than the deepest dependency
    loc: Location
    images: tuple[tuple[str, str], ...] = ()  # (image as written, image as pulled)
    gpu_pods: int | None = None  # pods of its own objects that request its GPUs (None: not counted there)
    release: ReleaseOptions = DEFAULT_RELEASE  # how the engine releases it: the component's, the environment's
    external: ExternalSource | None = None  # a chart's or kustomize folder's built-in fields, typed (and found)
    found: FoundTarget | None = None  # the target and container easel found in its rendered chart (chart_pods.py)

    @property
    def replicas(self) -> int:
        """How many pods its GPU ask is booked for: counted on its own objects, else the replicas trait's."""
        if self.gpu_pods is not None:
            return self.gpu_pods
        counts = [t.output.replicas for t in self.traits if t.output.replicas is not None]
        if counts:
            return counts[-1]
        return self.output.replicas if self.output.replicas is not None else 1

    @property
    def cluster_specific(self) -> bool:
        return self.output.cluster_template is not None or any(t.output.cluster_template for t in self.traits)


@dataclass(frozen=True)
class ResolvedWorkload:
    """A team's Workload at one version of its profile."""
    workload: Workload
    environment: Environment
    project: Project
    profile: WorkloadProfile
    parameters: dict[str, EffectiveParameter]
    namespace: str
    components: tuple[ResolvedComponent, ...]
    gpu_demands: tuple[GpuDemand, ...] = ()
    # where a template that reads `cluster` makes its pods differ: cluster -> the demands there (specialize.py)
    cluster_demands: Mapping[str, tuple[GpuDemand, ...]] = field(default_factory=dict, compare=False, hash=False)

    def demands_on(self, cluster: str) -> tuple[GpuDemand, ...]:
        """What it asks of that cluster's GPUs."""
        return self.cluster_demands.get(cluster, self.gpu_demands)

    @property
    def id(self) -> str:
        return self.workload.id

    @property
    def version(self) -> str:
        return self.profile.version

    @property
    def path(self) -> str:
        """Where its files go in a cluster's tree."""
        return f"workloads/{self.workload.project}/{self.workload.meta.name}"

    @property
    def total_gpus(self) -> int:
        return sum(d.total for d in self.gpu_demands)


@dataclass(frozen=True)
class ResolvedStack:
    """An infrastructure stack (a profile named in `requires.profiles`) as clusters run it: in a namespace of
    its own name, with its defaults and the easel.yaml parameters; no team, environment or policy."""
    profile: WorkloadProfile
    parameters: dict[str, EffectiveParameter]
    components: tuple[ResolvedComponent, ...]

    @property
    def name(self) -> str:
        return self.profile.meta.name

    @property
    def version(self) -> str:
        return self.profile.version

    @property
    def namespace(self) -> str:
        return self.profile.meta.name

    @property
    def path(self) -> str:
        return f"{STACKS}/{self.name}"


@dataclass(frozen=True)
class Resolutions:
    """Everything resolved for a compile: each workload at each version it runs (the rollout's target too), and
    each infrastructure stack at each version some cluster runs."""
    workloads: dict[tuple[str, str], ResolvedWorkload]  # (workload id, version) -> resolved
    stacks: dict[tuple[str, str], ResolvedStack]  # (stack, version) -> resolved
    # (workload id, version) -> resolved for clusters that allocate GPUs through DRA: only workloads with GPUs
    # placed on such a cluster (the others render alike under both)
    under_dra: dict[tuple[str, str], ResolvedWorkload] = field(default_factory=dict)
    dra_products: tuple[tuple[str, str], ...] = ()  # GPU product -> the name the DRA driver publishes (inventory.py)
    # for clusters with a mirror, resolved again with it over their traits, once per mirror: (workload id, version,
    # the allocation it was resolved for, mirror) and (stack, version, mirror)
    mirrored: dict[tuple[str, str, str, str], ResolvedWorkload] = field(default_factory=dict)
    mirrored_stacks: dict[tuple[str, str, str], ResolvedStack] = field(default_factory=dict)

    def allocation(self, workload_id: str, version: str | None, gpu_allocation: str) -> str:
        """How the workload's resolution for a cluster that allocates GPUs so requests them: dra only where it was
        resolved under DRA (a workload with GPUs)."""
        return DRA if gpu_allocation == DRA and (workload_id, version or "") in self.under_dra else DEVICE_PLUGIN

    def workload(self, workload_id: str, version: str | None, gpu_allocation: str = DEVICE_PLUGIN,
                 mirror: str | None = None) -> ResolvedWorkload | None:
        key = (workload_id, version or "")
        allocation = self.allocation(workload_id, version, gpu_allocation)
        if mirror is not None:
            return self.mirrored.get((*key, allocation, mirror))
        return self.under_dra[key] if allocation == DRA else self.workloads.get(key)

    def stack(self, name: str, version: str, mirror: str | None = None) -> ResolvedStack | None:
        return self.mirrored_stacks.get((name, version, mirror)) if mirror is not None else \
            self.stacks.get((name, version))
