"""The typed model of a config repository, built once from YAML by validate/.

Later stages read these objects only; none of them looks at raw YAML. Every object keeps the Location of its
document so that any later stage can point a diagnostic at the right line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from compiler.diagnostics import Location
from compiler.model.charts import ChartArchive
from compiler.model.folders import KustomizeFolder


@dataclass(frozen=True)
class Meta:
    name: str
    loc: Location
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    description: str | None = None


@dataclass(frozen=True)
class ParamSetting:
    """A parameter value set at one layer; `locked` forbids every higher layer to set it."""
    value: Any
    locked: bool
    loc: Location


@dataclass(frozen=True)
class Settings:
    """easel.yaml's settings. validate fills them in from the schema's defaults; these field defaults are for
    Settings made by hand (tests), and a test keeps them equal to the schema's."""
    loc: Location
    inputs: tuple[str, ...] = ("profiles", "environments", "clusters", "workloads")
    output: str = "output"
    engine: str = "flux"
    render: str = "helmrelease"  # helmrelease | hydrated: how charts reach the clusters (gitops.render)
    interval: str = "10m"
    repo_url: str = "https://git.example.com/platform/fleet.git"
    git_secret_ref: str | None = None  # the Secret Flux reads repoURL (or the OCI artifacts) with (gitops.secretRef)
    branch: str = "main"
    parameters: dict[str, ParamSetting] = field(default_factory=dict)
    delivery: str = "git"  # git | oci: what each cluster's bootstrap source follows
    oci_repository: str | None = None  # REGISTRY/REPO: cluster c follows oci://REGISTRY/REPO/c
    oci_tag: str = "latest"
    oci_insecure: bool = False  # a registry over plain HTTP
    chart_proof: str = "warn"  # warn | required: what a chart easel has not proven is (charts.proof)
    charts_path: str = "charts"  # where `easel charts pull` keeps archives (charts.path)
    charts_commit: bool = True  # False: archives kept in easel's cache (charts.commit)


@dataclass(frozen=True)
class Repository:
    meta: Meta
    type: str  # helm | oci | git
    url: str
    secret_ref: str | None
    ref: tuple[str, str] | None = None  # git: ("branch" | "tag" | "commit", its value)


@dataclass(frozen=True)
class PodTemplatePath:
    """Where objects of a custom kind keep pod templates, as a ComponentDefinition declares it: a path that may
    hold `[*]` (every item), and the field beside each template that says how many pods it runs."""
    kind: str
    path: str  # e.g. spec.workerGroupSpecs[*].template
    replicas: str | None = None  # e.g. replicas (a sibling of the template); None: one pod
    api_version: str | None = None  # None: any


@dataclass(frozen=True)
class Definition:
    """A ComponentDefinition or TraitDefinition: built in (Python) or the user's (a Jinja2 template)."""
    meta: Meta
    kind: str  # "component" | "trait"
    parameters: dict[str, Any]  # JSON Schema of the properties
    template: str | None  # None for built-in definitions
    builtin: bool = False
    pod_templates: tuple[PodTemplatePath, ...] = ()  # a ComponentDefinition's custom kinds: where their pods are
    pods_declared: bool = False  # podTemplates is written (`[]` too): a custom kind it leaves out runs no pods


@dataclass(frozen=True)
class TraitUse:
    type: str
    properties: dict[str, Any]
    loc: Location
    origin: str  # "profile" | "workload" | "environment" | "cluster": which file's author wrote it


@dataclass(frozen=True)
class ReleaseOptions:
    """How a component is released: Flux HelmRelease settings, Argo CD sync settings. None: not set here."""
    timeout: str | None = None  # Flux: how long an install or upgrade may take (Go duration)
    retries: int | None = None  # Flux: install and upgrade remediation retries
    crds: str | None = None  # Flux: Skip | Create | CreateReplace (what an upgrade does with the chart's CRDs)
    drift_detection: str | None = None  # Flux: enabled | warn | disabled
    sync_options: tuple[str, ...] = ()  # Argo CD sync options, e.g. ServerSideApply=true
    sync_retries: int | None = None  # Argo CD: how often a failed sync is retried

    def over(self, base: ReleaseOptions) -> ReleaseOptions:
        """These options, with what they leave unset taken from base."""
        return ReleaseOptions(
            self.timeout or base.timeout, self.retries if self.retries is not None else base.retries,
            self.crds or base.crds, self.drift_detection or base.drift_detection,
            _sync_options(base.sync_options, self.sync_options),
            self.sync_retries if self.sync_retries is not None else base.sync_retries)


def _sync_options(base: tuple[str, ...], over: tuple[str, ...]) -> tuple[str, ...]:
    """Argo CD sync options: one per name, the later setting of a name winning (ServerSideApply=false over =true)."""
    found = {option.partition("=")[0]: option for option in (*base, *over)}
    return tuple(found.values())


# What a Flux or Argo CD maintainer would set when nothing says otherwise: retry a failed install or upgrade
# (then roll it back), and keep a chart's CRDs current on upgrade (Helm itself never upgrades them).
# On Argo CD: server-side apply (large CRDs, such as KubeRay's, exceed what client-side apply can annotate), and
# a sync retried long enough to outlast a first sync's races (a CRD or namespace still arriving): after the last
# retry, automated sync does not try the same revision again.
DEFAULT_RELEASE = ReleaseOptions(retries=3, crds="CreateReplace", sync_options=("ServerSideApply=true",),
                                 sync_retries=10)


@dataclass(frozen=True)
class Component:
    name: str
    type: str
    properties: dict[str, Any]
    traits: tuple[TraitUse, ...]
    depends_on: tuple[str, ...]
    loc: Location
    release: ReleaseOptions = ReleaseOptions()


@dataclass(frozen=True)
class ProfileDependency:
    name: str
    range: str
    loc: Location


@dataclass(frozen=True)
class WorkloadProfile:
    meta: Meta
    version: str
    type: str
    parameters: dict[str, dict[str, Any]]  # name -> JSON Schema, may hold `default`
    kubernetes: str | None  # a version range
    arch: str | None  # the device architecture the stack needs (amd64, arm64), when it pins one
    requires_profiles: tuple[ProfileDependency, ...]
    components: tuple[Component, ...]
    digest: str = ""  # of the document's content (easel.lock pins it: a published version never changes)

    @property
    def key(self) -> tuple[str, str]:
        return self.meta.name, self.version


@dataclass(frozen=True)
class Layer:
    type: str
    name: str
    version: str
    crds: tuple[str, ...] = ()  # API groups whose CRDs it installs


@dataclass(frozen=True)
class ClusterProfile:
    meta: Meta
    version: str
    layers: tuple[Layer, ...]

    @property
    def kubernetes_version(self) -> str | None:
        return next((layer.version for layer in self.layers if layer.type == "kubernetes"), None)


@dataclass(frozen=True)
class Taint:
    key: str
    value: str | None
    effect: str  # NoSelect | PreferNoSelect | NoSelectIfNew


@dataclass(frozen=True)
class Toleration:
    key: str | None
    operator: str  # Equal | Exists
    value: str | None
    effect: str | None


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # In | NotIn | Exists | DoesNotExist
    values: tuple[str, ...]


@dataclass(frozen=True)
class Selector:
    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[Requirement, ...] = ()


@dataclass(frozen=True)
class GpuFact:
    product: str | None  # None: the device has GPUs of an unknown product
    memory: Fraction | None  # bytes per GPU
    count: int | None  # None: unknown
    time_slicing: int | None = None  # replicas per GPU when the GPUs are shared by time-slicing
    mig: tuple[tuple[str, int], ...] = ()  # MIG profile -> instances, when the GPUs are partitioned
    dra: tuple[tuple[str, str], ...] = ()  # published through DRA: ("driver", ...) and the driver's attributes


@dataclass(frozen=True)
class Device:
    name: str
    cluster: str
    role: str
    state: str
    arch: str | None
    cpu_cores: int | None
    memory: Fraction | None
    gpus: tuple[GpuFact, ...]
    loc: Location
    node_labels: dict[str, str] | None = None  # the labels its node carries; None: not recorded
    product_from_tags: bool = False  # its GPU product is known only from a manual tag


@dataclass(frozen=True)
class RegistryRules:
    """Where a cluster's images come from (its `spec.registry`): the mirror every image it pulls is rewritten to,
    and the registries (hosts, or host/path prefixes) its images may come from."""
    mirror: str | None = None
    allowed: tuple[str, ...] | None = None  # None: any; written without it, a mirror allows itself alone


@dataclass(frozen=True)
class Cluster:
    meta: Meta
    source: str  # palette | byoc
    cluster_profile: tuple[str, str] | None  # (name, version)
    kubernetes_version: str | None  # as written (byoc), checked in validate
    engine: str | None  # None: the Settings default
    taints: tuple[Taint, ...]
    devices: tuple[Device, ...]
    crds: tuple[str, ...] = ()  # API groups whose CRDs it already has, installed outside easel
    gpu_allocation: str | None = None  # device-plugin | dra, as written; None: from its devices (inventory.py)
    registry: RegistryRules = RegistryRules()
    render: str | None = None  # helmrelease | hydrated; None: the environment's, else the Settings'


@dataclass(frozen=True)
class Project:
    meta: Meta
    quota_gpus: int | None
    quota_by_product: dict[str, int]
    parameters: dict[str, ParamSetting]


@dataclass(frozen=True)
class Prioritizer:
    name: str
    weight: int


@dataclass(frozen=True)
class AllowedProfile:
    name: str
    versions: str | None
    loc: Location


@dataclass(frozen=True)
class Wave:
    name: str
    selector: Selector | None
    percent: int | None


@dataclass(frozen=True)
class Environment:
    meta: Meta
    projects: tuple[str, ...]
    selector: Selector
    number_of_clusters: int | None
    prioritizers: tuple[Prioritizer, ...]
    tolerations: tuple[Toleration, ...]
    spread_by: str | None  # a cluster label: chosen clusters spread over its values
    max_skew: int
    namespace_strategy: str  # project | workload
    namespace_quota: dict[str, str]
    isolation: str  # none | strict
    parameters: dict[str, ParamSetting]
    traits: tuple[TraitUse, ...]
    allowed_profiles: tuple[AllowedProfile, ...] | None  # None: every profile
    max_gpus_per_workload: int | None
    required_traits: tuple[str, ...]
    allowed_registries: tuple[str, ...] | None
    rollout_strategy: str
    waves: tuple[Wave, ...]
    egress: str  # open | restricted
    allow_from: tuple[str, ...] = ()  # namespaces that may reach its workloads under strict isolation
    egress_cidrs: tuple[str, ...] = ()  # restricted egress: where else pods may connect (DNS always)
    egress_namespaces: tuple[str, ...] = ()
    pod_security: tuple[tuple[str, str], ...] = ()  # (mode, level): Pod Security admission on its namespaces
    release: ReleaseOptions = ReleaseOptions()  # release options of its workloads' components (theirs win)
    render: str | None = None  # helmrelease | hydrated (gitops.render); None: easel.yaml's

    def admits(self, project: str) -> bool:
        return "*" in self.projects or project in self.projects


@dataclass(frozen=True)
class Workload:
    meta: Meta
    project: str
    environment: str
    profile: str
    version_range: str
    parameters: dict[str, ParamSetting]
    traits: dict[str, tuple[TraitUse, ...]]  # component name -> extra traits

    @property
    def key(self) -> tuple[str, str]:
        return self.project, self.meta.name

    @property
    def id(self) -> str:
        return f"{self.project}/{self.meta.name}"

    @property
    def asks_at(self) -> Location:
        """Where a problem with what the workload asks for points: its parameters, else its profile (as a key)."""
        spec = self.meta.loc.at("spec")
        return (spec.at("parameters") if self.parameters else spec.at("profile")).as_key()


@dataclass(frozen=True)
class ManifestFile:
    """A plain Kubernetes YAML file that a `manifests` component refers to."""
    path: str
    objects: tuple[tuple[dict[str, Any], Location], ...]


@dataclass
class Model:
    settings: Settings
    repositories: dict[str, Repository] = field(default_factory=dict)
    definitions: dict[tuple[str, str], Definition] = field(default_factory=dict)  # (kind, name)
    profiles: dict[str, dict[str, WorkloadProfile]] = field(default_factory=dict)  # name -> version -> profile
    cluster_profiles: dict[tuple[str, str], ClusterProfile] = field(default_factory=dict)
    clusters: dict[str, Cluster] = field(default_factory=dict)  # sorted by name
    projects: dict[str, Project] = field(default_factory=dict)
    environments: dict[str, Environment] = field(default_factory=dict)
    workloads: dict[tuple[str, str], Workload] = field(default_factory=dict)  # (project, name), sorted
    manifest_files: dict[str, ManifestFile] = field(default_factory=dict)
    kustomize_folders: dict[str, KustomizeFolder] = field(default_factory=dict)  # by path: what trees carry
    charts: dict[tuple[str, str, str], ChartArchive] = field(default_factory=dict)  # (repository, chart, version)
    in_house: dict[str, ChartArchive] = field(default_factory=dict)  # folder -> the in-house chart it holds

    def component_definition(self, name: str) -> Definition | None:
        return self.definitions.get(("component", name))

    def trait_definition(self, name: str) -> Definition | None:
        return self.definitions.get(("trait", name))

    def find_workload(self, wanted: str) -> tuple[Workload | None, str | None]:
        """The Workload named `project/name` or `name` (when unique); else None and why."""
        if "/" in wanted:
            project, _, name = wanted.partition("/")
            found = self.workloads.get((project, name))
            return (found, None) if found else (None, f"no workload {wanted!r}")
        matches = [w for (p, n), w in self.workloads.items() if n == wanted]
        if len(matches) == 1:
            return matches[0], None
        if matches:
            return None, f"{wanted!r} is ambiguous: " + ", ".join(w.id for w in matches) + " (write project/name)"
        return None, f"no workload {wanted!r}"
