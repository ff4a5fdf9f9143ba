"""Stage 4, plan: for each cluster, exactly what it runs, as plain data that rendering only reads.

A ClusterPlan holds the infrastructure stacks and the workloads on the cluster, each at the version that cluster
runs (a rollout's waves are read here, once), with its components and traits rendered for that cluster (user
templates that read `cluster` are run here), the stacks it waits for, its namespace, and what each of its
pod-bearing components was booked: GPUs (resource, count per replica, replicas), node selector and tolerations.
"What runs on cluster Y?" is one lookup: `plans.clusters["Y"].release("nlp/support-bot")`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from compiler.decide import inventory, policy
from compiler.decide.inventory import ClusterFacts
from compiler.decide.resolve import STACKS, Resolutions, ResolvedComponent, ResolvedStack, ResolvedWorkload, specialize
from compiler.diagnostics import Diagnostic, Diagnostics
from compiler.kube import podtemplates
from compiler.model import Cluster, Model, Repository, Settings, gpu
from compiler.model.charts import ChartArchive
from compiler.model.folders import KustomizeFolder
from compiler.plan import checks, pinning, private_charts
from compiler.plan.chart_patches import ChartPatch, chart_patches
from compiler.record.decisions import Decisions

MANAGED_BY = {"app.kubernetes.io/managed-by": "easel"}
# SPEC §6: the labels only a workload's component objects carry; what groups a workload (its namespace's objects,
# its Flux layers) goes without them, so that a version bump does not touch it
PROFILE_VERSION = "easel.dev/profile-version"
COMPONENT = "easel.dev/component"


@dataclass(frozen=True)
class NamespacePlan:
    name: str
    labels: dict[str, str]
    quota: dict[str, str]  # a ResourceQuota's hard limits; {} for none
    isolation: str  # none | strict
    allow_from: tuple[str, ...] = ()  # strict: the namespaces whose pods may reach it too
    egress: str = "open"  # open | restricted
    egress_cidrs: tuple[str, ...] = ()
    egress_namespaces: tuple[str, ...] = ()
    pod_security: tuple[tuple[str, str], ...] = ()  # (mode, level): Pod Security admission labels of the Namespace


@dataclass(frozen=True)
class GpuBooking:
    # device-plugin: the resource its containers request (nvidia.com/gpu, nvidia.com/mig-3g.40gb); dra: the
    # DeviceClass its pods' claims ask for (gpu.nvidia.com, mig.nvidia.com)
    resource: str
    per_replica: int
    replicas: int
    products: tuple[str, ...]  # the GPU products its pods must land on (a node selector, affinity or CEL); () = any
    allocation: str = gpu.DEVICE_PLUGIN  # device-plugin | dra
    claim_template: str | None = None  # dra: the ResourceClaimTemplate each pod's claim is made from


@dataclass(frozen=True)
class Booking:
    """What one pod-bearing component (a chart, a folder, or objects with a pod template) was booked, and so
    what its pods must request and carry."""
    component: str
    gpus: tuple[GpuBooking, ...]
    node_selector: dict[str, str]
    tolerations: tuple[dict[str, Any], ...]


HELMRELEASE, HYDRATED = "helmrelease", "hydrated"  # how a release's charts reach the cluster (gitops.render)


def render_mode(cluster: str | None, environment: str | None, settings: str) -> str:
    """What a release's charts are on a cluster: hydrated when the cluster or the environment says so (a site
    that cannot reach chart sources, or an environment whose pull requests must show what is applied: only
    hydrated output serves either), else what one of them says, else easel.yaml's."""
    said = (cluster, environment)
    return HYDRATED if HYDRATED in said else cluster or environment or settings


# a hydrated chart's folders beside its component's own, on Flux (a layer each: HydratedChart's parts)
HYDRATED_FOLDERS = ("crds", "before", "after")


@dataclass(frozen=True)
class HydratedChart:
    """A chart component's objects as Helm's engine renders them and easel's patches change them (the hydrate
    stage), by when they apply: the CRDs (and the namespace a chart installed into one of its own is given) first,
    the hooks that run before an install or upgrade, the objects, the hooks that run after. Each is (the chart's
    template, the object)."""
    crds: tuple[tuple[str, dict[str, Any]], ...] = ()
    before: tuple[tuple[str, dict[str, Any]], ...] = ()
    objects: tuple[tuple[str, dict[str, Any]], ...] = ()
    after: tuple[tuple[str, dict[str, Any]], ...] = ()
    key: str = ""  # the same objects, the same key (what rendering caches by)
    # the Flux layers that write the CRDs it ships which an earlier chart of the cluster ships alike (written once)
    crds_from: tuple[str, ...] = ()

    @property
    def written(self) -> tuple[tuple[str, dict[str, Any]], ...]:
        """Every object it writes, in the order they apply."""
        return (*self.crds, *self.before, *self.objects, *self.after)


@dataclass(frozen=True)
class Release:
    """A workload or an infrastructure stack as one cluster runs it."""
    kind: str  # "workload" | "stack"
    id: str  # "project/name" for a workload, the stack's name for a stack
    group: str  # the workload's project, or "infrastructure" for a stack
    name: str
    profile: str
    version: str
    path: str  # its folder in the cluster's tree
    namespace: NamespacePlan
    labels: dict[str, str]  # its component objects' (labels_for adds easel.dev/component; grouping_labels)
    components: tuple[ResolvedComponent, ...]  # rendered for this cluster
    waits_for: tuple[tuple[str, str], ...] = ()  # (name, namespace) of the stacks' HelmReleases it needs first
    bookings: tuple[Booking, ...] = ()
    key: tuple = ()  # the same on every cluster that renders it the same way (for rendering once)
    requires: tuple[str, ...] = ()  # the stacks it needs first (a workload's, transitively; a stack's own)
    gpu_allocation: str = gpu.DEVICE_PLUGIN  # how its GPUs are requested: device-plugin | dra (claims)
    # per chart or folder component (by name): its traits as the kustomize patches the engine applies
    chart_patches: dict[str, tuple[ChartPatch, ...]] = field(default_factory=dict)
    render: str = HELMRELEASE  # helmrelease | hydrated (render_mode)
    # hydrated: per chart component (by name), its objects as written (filled in by the hydrate stage)
    hydrated: Mapping[str, HydratedChart] = field(default_factory=dict)

    def patches_for(self, component: str) -> tuple[ChartPatch, ...]:
        return self.chart_patches.get(component, ())

    @property
    def uses_namespace(self) -> bool:
        """Whether anything of it goes to its namespace (not when every component is a chart installed into a
        namespace of its own, as an infrastructure chart may be)."""
        return any(not (c.output.helm and c.output.helm.namespace) for c in self.components)

    def hydrates(self, component: ResolvedComponent) -> bool:
        """Whether easel writes this component's chart as its rendered objects (render: hydrated)."""
        return self.render == HYDRATED and component.output.helm is not None

    def labels_for(self, component: str | None) -> dict[str, str]:
        """A component's objects' labels (SPEC §6); a stack's are its profile and version only (it belongs to no
        team, and is one thing at one version)."""
        if self.kind == "stack" or component is None:
            return dict(self.labels)
        return {**self.labels, COMPONENT: component}

    @property
    def grouping_labels(self) -> dict[str, str]:
        """The labels of what groups the release on a cluster (its Flux layers): a workload's less its version
        (SPEC §6: a version bump does not touch them); a stack's, all of them."""
        if self.kind == "stack":
            return dict(self.labels)
        return {key: value for key, value in self.labels.items() if key not in (PROFILE_VERSION, COMPONENT)}


@dataclass(frozen=True)
class ClusterPlan:
    cluster: str
    engine: str  # flux | argocd
    stacks: tuple[Release, ...]
    workloads: tuple[Release, ...]
    kubernetes_version: str | None = None  # what its templates and charts are rendered for

    @property
    def releases(self) -> tuple[Release, ...]:
        return (*self.stacks, *self.workloads)

    def release(self, release_id: str) -> Release | None:
        """What the cluster runs of a workload (by id) or a stack (by name); None when it runs none."""
        return next((r for r in self.releases if r.id == release_id), None)


@dataclass(frozen=True)
class Plans:
    settings: Settings  # interval, repository URL and branch, output folder
    repositories: Mapping[str, Repository]
    clusters: Mapping[str, ClusterPlan]
    in_house: Mapping[str, ChartArchive] = field(default_factory=dict)  # in-house charts by folder (their files)
    # (repository, chart, version) -> the OCI manifest digest easel.lock pins: what Flux's OCIRepository pulls
    chart_manifests: Mapping[tuple[str, str, str], str] = field(default_factory=dict)
    folders: Mapping[str, KustomizeFolder] = field(default_factory=dict)  # kustomize folders by path (their files)


def plan(model: Model, fleet: Mapping[str, ClusterFacts], decisions: Decisions,
         resolutions: Resolutions) -> tuple[Plans, Diagnostics]:
    diagnostics = Diagnostics()
    on: dict[str, list[ResolvedWorkload]] = {name: [] for name in fleet}
    for workload_id, decision in decisions.workloads.items():
        for cluster in decision.clusters or ():
            facts = fleet[cluster]
            resolved = resolutions.workload(workload_id, decision.version_on(cluster), facts.gpu_allocation,
                                            facts.cluster.registry.mirror)
            if resolved is not None:
                on[cluster].append(resolved)
    dra_names = dict(resolutions.dra_products)
    stacks: dict[tuple[str, str, str | None, str], Release] = {}
    pulling: list[tuple[Cluster, Release]] = []  # releases on clusters whose registries are limited
    planned: dict[tuple, Release] = {}
    isolated: set[tuple[str, str]] = set()  # workloads whose isolation was checked
    clusters = {}
    for name, facts in fleet.items():
        cluster_decision = decisions.clusters.get(name)
        mirror = facts.cluster.registry.mirror
        stack_mode = render_mode(facts.cluster.render, None, model.settings.render)
        cluster_stacks = _stacks_on(cluster_decision.stacks if cluster_decision else {}, resolutions, mirror, stacks,
                                    stack_mode)
        workloads = _for_cluster(on[name], facts, diagnostics)
        checks.namespaces_agree(name, [w for w, _ in workloads], diagnostics)
        # the stacks' HelmReleases a workload's wait for (a hydrated stack has none: its layers order it)
        refs = {s.id: tuple((c.instance, s.namespace.name) for c in s.components if c.output.helm)
                for s in cluster_stacks if s.render != HYDRATED}
        needs = cluster_decision.needs if cluster_decision else {}
        releases = []
        offers: dict[str, pinning.ClusterOffer] = {}  # by how its workloads get GPUs there
        for workload, specialized in workloads:
            waits = tuple(ref for stack in needs.get(workload.id, ()) for ref in refs.get(stack, ()))
            stacks_needed = tuple(needs.get(workload.id, ()))
            # how its GPUs are requested and its namespace's GPU quota written: the cluster's way, when it matters
            matters = workload.gpu_demands or _gpu_quota(workload.environment.namespace_quota)
            allocation = facts.gpu_allocation if matters else gpu.DEVICE_PLUGIN
            # a list of GPU products, or any, pinned to those placement took here
            if allocation not in offers:
                offers[allocation] = pinning.cluster_offer(facts.gpus, allocation, dra_names)
            workload, narrowed = pinning.pinned(workload, decisions.workload(workload.id).allocations.get(name, ()),
                                                offers[allocation])
            mode = render_mode(facts.cluster.render, workload.environment.render, model.settings.render)
            key = (workload.id, workload.version, name if specialized else None, waits, stacks_needed, allocation,
                   narrowed, mirror, mode)
            if key not in planned:  # a workload planned alike on many clusters is one value
                planned[key] = _workload_release(workload, waits, key[2], stacks_needed, allocation, narrowed, mirror,
                                                 mode)
                if (workload.id, workload.version) not in isolated:
                    isolated.add((workload.id, workload.version))
                    diagnostics.extend(checks.cut_off(workload))
                    diagnostics.extend(checks.outside_the_tree(workload, model.settings, model.kustomize_folders))
            releases.append(planned[key])
        clusters[name] = ClusterPlan(name, facts.engine, tuple(cluster_stacks), tuple(releases),
                                     facts.kubernetes_version)
        if facts.cluster.registry.allowed is not None:
            pulling += [(facts.cluster, release) for release in clusters[name].releases]
    diagnostics.extend(_across_clusters(model, clusters, pulling))
    return (Plans(model.settings, model.repositories, clusters, model.in_house, decisions.chart_manifests,
                  model.kustomize_folders), diagnostics)


def _stacks_on(decided: Mapping[str, str], resolutions: Resolutions, mirror: str | None,
               stacks: dict[tuple[str, str, str | None, str], Release], mode: str) -> list[Release]:
    """The stack releases of a cluster (stacks: those planned so far, the same for every cluster alike)."""
    found = []
    for stack, version in decided.items():
        resolved = resolutions.stack(stack, version, mirror)
        if resolved is not None:
            if (stack, version, mirror, mode) not in stacks:
                stacks[(stack, version, mirror, mode)] = _stack_release(resolved, mirror, mode)
            found.append(stacks[(stack, version, mirror, mode)])
    return found


def _across_clusters(model: Model, clusters: Mapping[str, ClusterPlan], pulling: list[tuple[Cluster, Release]]
                     ) -> list[Diagnostic]:
    """What is checked of the plans of every cluster at once, to say each problem once, naming its clusters: the
    images of clusters whose registries are limited (E822), private charts Argo CD would inflate (E806)."""
    return [*policy.check_cluster_images((c, r.kind, r.id, r.key, r.components) for c, r in pulling),
            *private_charts.refused({n: (c.engine, c.releases) for n, c in clusters.items()}, model.repositories)]


def _for_cluster(workloads: list[ResolvedWorkload], facts: ClusterFacts,
                 diagnostics: Diagnostics) -> list[tuple[ResolvedWorkload, bool]]:
    """The workloads with their templates that read `cluster` rendered for this one (and whether they had
    any); a workload whose template fails there is left out (its error says so)."""
    context = None
    found = []
    for workload in workloads:
        specialized = any(c.cluster_specific for c in workload.components)
        if specialized:
            context = context or inventory.template_context(facts)
            rendered, problems = specialize.for_cluster(workload, context)
            diagnostics.extend(problems)
            if rendered is None:
                continue
            workload = rendered
        found.append((workload, specialized))
    return found


def _labels(workload: ResolvedWorkload) -> dict[str, str]:
    return {
        **MANAGED_BY,
        "easel.dev/project": workload.workload.project,
        "easel.dev/workload": workload.workload.meta.name,
        "easel.dev/environment": workload.environment.meta.name,
        "easel.dev/profile": workload.profile.meta.name,
        PROFILE_VERSION: workload.profile.version,
    }


def _pod_bearing(component: ResolvedComponent) -> bool:
    output = component.output
    return bool(output.helm or output.kustomize_path
                or any(podtemplates.is_pod_bearing(o, output.pod_templates) for o in output.objects or ()))


def _booking(component: ResolvedComponent, allocation: str) -> Booking:
    gpus, node_selector, tolerations = [], {}, []
    for trait in component.traits:
        ask = trait.output.gpu
        if ask is not None and allocation == gpu.DRA:
            [template] = [o["metadata"]["name"] for o in trait.output.objects if o["kind"] == "ResourceClaimTemplate"]
            gpus.append(GpuBooking(gpu.device_class(ask), ask.count, component.replicas, ask.products, gpu.DRA,
                                   template))
            tolerations.append({"key": gpu.GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"})
        elif ask is not None:
            gpus.append(GpuBooking(ask.resource_name, ask.count, component.replicas, ask.products))
            if len(ask.products) == 1:
                node_selector[gpu.PRODUCT_LABEL] = ask.product_labels[0]
            tolerations.append({"key": gpu.GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"})
        elif trait.placement is not None:
            node_selector.update(trait.placement.node_selector)
            tolerations += trait.placement.tolerations
    return Booking(component.name, tuple(gpus), node_selector, tuple(tolerations))


def _bookings(components: tuple[ResolvedComponent, ...], allocation: str = gpu.DEVICE_PLUGIN
              ) -> tuple[Booking, ...]:
    return tuple(_booking(c, allocation) for c in components if _pod_bearing(c))


def _workload_release(workload: ResolvedWorkload, waits_for: tuple[tuple[str, str], ...],
                      specialized_for: str | None, requires: tuple[str, ...] = (),
                      allocation: str = gpu.DEVICE_PLUGIN, pinned_to: tuple = (), mirror: str | None = None,
                      mode: str = HELMRELEASE) -> Release:
    environment = workload.environment
    labels = _labels(workload)
    if environment.namespace_strategy == "project":  # shared by the project's workloads: what is true of all
        namespace_labels = {**MANAGED_BY, "easel.dev/project": workload.workload.project,
                            "easel.dev/environment": environment.meta.name}
    else:  # SPEC §6: the workload's labels less its version, which a version bump would change
        namespace_labels = {key: value for key, value in labels.items() if key != PROFILE_VERSION}
    return Release(
        "workload", workload.id, workload.workload.project, workload.workload.meta.name, workload.profile.meta.name,
        workload.version, workload.path,
        NamespacePlan(workload.namespace, namespace_labels, _quota(environment.namespace_quota, allocation),
                      environment.isolation, environment.allow_from, environment.egress, environment.egress_cidrs,
                      environment.egress_namespaces, environment.pod_security),
        labels, workload.components, waits_for, _bookings(workload.components, allocation),
        key=("workload", workload.id, workload.version, specialized_for, allocation, pinned_to, mirror, mode),
        requires=requires,
        gpu_allocation=allocation, chart_patches=_chart_patches(workload.components), render=mode)


# Under DRA, GPUs are claimed, not requested as an extended resource: a namespace's quota on nvidia.com/gpu is
# also written as Kubernetes' quota on the devices claimed from the driver's DeviceClass of whole GPUs.
DRA_GPU_QUOTA = f"{gpu.GPU_DEVICE_CLASS}.deviceclass.resource.k8s.io/devices"
_GPU_QUOTA_KEYS = (f"requests.{gpu.GPU_RESOURCE}", gpu.GPU_RESOURCE)


def _gpu_quota(quota: Mapping[str, str]) -> str | None:
    return next((quota[key] for key in _GPU_QUOTA_KEYS if key in quota), None)


def _quota(quota: Mapping[str, str], allocation: str) -> dict[str, str]:
    found = dict(quota)
    if allocation == gpu.DRA and _gpu_quota(quota) is not None:
        found.setdefault(DRA_GPU_QUOTA, str(_gpu_quota(quota)))
    return dict(sorted(found.items()))


def _stack_release(stack: ResolvedStack, mirror: str | None = None, mode: str = HELMRELEASE) -> Release:
    labels = {**MANAGED_BY, "easel.dev/profile": stack.name, "easel.dev/profile-version": stack.version}
    return Release("stack", stack.name, STACKS, stack.name, stack.name, stack.version, stack.path,
                   NamespacePlan(stack.namespace, labels, {}, "none"), labels, stack.components,
                   bookings=_bookings(stack.components), key=("stack", stack.name, stack.version, mirror, mode),
                   requires=tuple(d.name for d in stack.profile.requires_profiles),
                   chart_patches=_chart_patches(stack.components), render=mode)


def _chart_patches(components: tuple[ResolvedComponent, ...]) -> dict[str, tuple[ChartPatch, ...]]:
    """The patches of each component kustomize renders (a chart or folder): what its traits do there."""
    return {c.name: chart_patches(c) for c in components if c.output.helm is not None or c.output.kustomize_path}
