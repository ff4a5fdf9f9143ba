"""What definitions produce: the pieces a component and its traits render into, before output layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compiler.diagnostics import Location, Subject
from compiler.model import Definition, PodTemplatePath
from compiler.model.gpu import DEVICE_PLUGIN, GpuAsk

# Where each built-in pod-bearing kind keeps its pod template (a Pod is its own template): where pod-level traits
# apply. Trait patches are written for spec.template, as on a Deployment, and moved to the kind's place.
POD_TEMPLATES: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"), "StatefulSet": ("spec", "template"), "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"), "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"), "Pod": (),
}
POD_KINDS = tuple(POD_TEMPLATES)
# What a pod-level trait patch hits in a chart or folder whose component names no `target`: the long-running
# workloads. (A chart's Jobs and DaemonSets are usually hooks and agents that must not get, say, GPUs.)
DEFAULT_EXTERNAL_KINDS = ("Deployment", "StatefulSet")
API_VERSIONS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "ReplicaSet": "apps/v1",
                "Job": "batch/v1", "CronJob": "batch/v1", "Pod": "v1"}


ALL_CONTAINERS = "*"  # a container name in a trait patch that means "every container"


@dataclass(frozen=True)
class Patch:
    """A strategic-merge patch. With `kind`, for the objects of that kind (and `name`, when set); without, a
    pod-level patch for the component's workload objects: every object of `kinds` that easel renders, or the
    component's `target` (by default Deployments and StatefulSets) in a chart or folder. (podtemplates.py says
    which objects and templates a patch reaches.)"""
    body: dict[str, Any]
    kind: str | None = None
    name: str | None = None
    api_version: str | None = None
    kinds: tuple[str, ...] = POD_KINDS  # POD_KINDS: every pod-bearing kind, custom kinds with declared pods too
    # On a chart with a `target`: whether its pod-level part goes to every pod (a security context) or stays with
    # its containers on the target (a GPU's node selector and toleration, a mount's volume).
    pod_wide: bool = True


@dataclass(frozen=True)
class TraitOutput:
    patches: list[Patch] = field(default_factory=list)
    objects: list[dict[str, Any]] = field(default_factory=list)  # extra objects (Ingress, PVC)
    registry: str | None = None  # image-registry: the mirror every image is rewritten to
    helm_images: tuple[str, ...] = ()  # image-registry on charts: the image names to rewrite
    labels: dict[str, str] = field(default_factory=dict)  # labels on every object of the component
    gpu: GpuAsk | None = None
    replicas: int | None = None
    cluster_template: ClusterTemplate | None = None  # a user template that reads `cluster`: rendered per cluster


@dataclass(frozen=True)
class HelmChart:
    repository: str  # a Repository name ("" for an in-house chart)
    chart: str
    version: str
    values: dict[str, Any]
    release_name: str | None
    namespace: str | None
    path: str | None = None  # an in-house chart: its folder in the config repository (under charts.path)
    git_path: str | None = None  # a Git Repository's chart: its folder there (version: the Repository's ref)

    @property
    def key(self) -> tuple[str, str, str]:
        """(repository, chart, version): how easel.lock pins its archive (repository "" for an in-house chart)."""
        return self.repository, self.chart, self.version


@dataclass(frozen=True)
class ComponentOutput:
    helm: HelmChart | None = None
    objects: list[dict[str, Any]] | None = None
    pod_templates: tuple[PodTemplatePath, ...] = ()  # where the objects' custom kinds keep their pods
    kustomize_path: str | None = None
    replicas: int | None = None  # what the component itself runs (webservice), for GPU demand
    cluster_template: ClusterTemplate | None = None  # a user template that reads `cluster`: rendered per cluster


# --- built-ins' fields that later stages read, typed (built in definitions/builtins/typed.py) -------------------

@dataclass(frozen=True)
class ChartTarget:
    """Objects of a chart or folder, as a kustomize patch targets them: those of `kind`, and of `name` when it is
    set (a regular expression, as kustomize matches names). A component's `target` is one: the objects that run
    its `container`."""
    kind: str
    name: str | None = None


@dataclass(frozen=True)
class ValuesMapping:
    """One `traitValues` entry: the chart values paths that take a trait's property (`<trait>.<property>`), or
    what it sets on the pod or container (`<trait>.pod.<field>`, `<trait>.container.<field>`)."""
    key: str
    paths: tuple[str, ...]
    listed: bool  # written as a list: a problem with a path is reported at its index


@dataclass(frozen=True)
class ExternalSource:
    """The built-in fields of a component whose objects easel cannot see (helm-chart, kustomize): which of them
    traits patch, the container their container-level part goes to, the API groups whose CRDs it installs, and
    (charts) the values that take trait properties and that hold its images."""
    target: ChartTarget | None = None  # None: every Deployment and StatefulSet (DEFAULT_EXTERNAL_KINDS)
    container: str | None = None
    crds: tuple[str, ...] = ()
    trait_values: tuple[ValuesMapping, ...] = ()
    image_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodePlacement:
    """The node-placement trait's node selector and tolerations: what placement books its pods onto."""
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class RenderContext:
    """What a definition sees besides its own properties (documented for template authors)."""
    workload: str
    project: str
    environment: str
    namespace: str
    component: str
    instance: str  # "<workload>-<component>", shortened: the name of the objects a component creates
    files: dict[str, Any] = field(default_factory=dict, compare=False)  # manifest files by path
    cluster: dict[str, Any] | None = None  # cluster facts, for templates that ask for them
    gpu_allocation: str = DEVICE_PLUGIN  # how the clusters it is rendered for hand out GPUs: device-plugin | dra
    dra_products: tuple[tuple[str, str], ...] = ()  # GPU product -> the name NVIDIA's DRA driver publishes
    charts: dict[str, tuple[str, str]] = field(default_factory=dict, compare=False)  # in-house: folder -> name, version

    def template_vars(self) -> dict[str, Any]:
        return {"workload": {"name": self.workload, "project": self.project, "environment": self.environment},
                "namespace": self.namespace, "component": {"name": self.component, "instance": self.instance},
                "cluster": self.cluster or {}}


@dataclass(frozen=True)
class ClusterTemplate:
    """A user definition whose template reads `cluster`, with all it needs to be rendered once per cluster (by
    the plan stage): plain data, so that resolved workloads hold no callables."""
    definition: Definition
    properties: dict[str, Any]
    context: RenderContext
    subject: Subject
    loc: Location
