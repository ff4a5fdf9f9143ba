"""The proof of a rendered cluster tree: read back as the cluster will apply it (objects.py), it must hold what
easel decided. For each release and component, the objects the tree really applies:

- carry the labels SPEC §6 gives their kind of object, as do their namespace, layers and Applications (labels.py);
- request the GPUs easel booked on that cluster, no more and no fewer: per resource, the sum over every pod
  template of the GPUs its containers ask for (or its DRA claims' devices) times the pods it runs, equal to the
  booking's GPUs per replica times its replicas, and in all equal to what placement took there (what the
  cluster's capacity and the project's quota were counted against); no GPU a booking does not name; and none
  in objects whose pods at once cannot be counted ahead (a DaemonSet, a CronJob whose runs may overlap);
- pull only images the cluster's `images.txt` lists for mirroring, from the registries the environment allows;
- hold, in every pod template, what each trait the environment requires patches in: applying the trait again
  changes nothing;
- be objects the cluster's API server accepts: built-in kinds against Kubernetes' schemas for its version,
  strictly, in an API version it serves (schemas.py); custom resources against the CRD the tree installs for
  their kind, in a version it serves (custom_schemas.py; a kind whose CRD the tree does not hold is taken on
  trust).

A failure is an error naming the cluster, the object, the field, what was expected and what was found, and the
component whose input made it. What the tree leaves to the engine (a chart, a folder outside the tree) is not
proven here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from compiler.decide.inventory import ClusterFacts
from compiler.decide.resolve import ResolvedTrait
from compiler.diagnostics import Diagnostic, Subject, error, warning
from compiler.kube import images, podtemplates
from compiler.kube.strings import with_string_fields
from compiler.model.charts import ChartArchive
from compiler.model.gpu import PRODUCT_LABEL, SHARED_SUFFIX
from compiler.plan import Booking, ClusterPlan, GpuBooking, Release
from compiler.prove import chart_objects, claims, custom_schemas, labels
from compiler.prove.chart_objects import ChartProof
from compiler.prove.objects import ComponentObjects, Parsed, component_objects, flux_layers
from compiler.prove.schemas import rejection, schema_version
from compiler.render.argocd import application_name

GPU_RESOURCES = ("nvidia.com/",)  # the device plugin's resources: whole GPUs, shared GPUs, MIG instances


@dataclass(frozen=True)
class WorkloadPolicy:
    """What a workload's environment demands of its objects."""
    registries: tuple[str, ...] | None = None  # the registries images may come from; None: any
    required_traits: tuple[str, ...] = ()


def prove_cluster(plan: ClusterPlan, files: dict[str, str], policies: Mapping[str, WorkloadPolicy],
                  taken: Mapping[str, Mapping[str, int]] | None = None,
                  parsed: Parsed | None = None, facts: ClusterFacts | None = None,
                  charts: ChartProof | None = None) -> list[Diagnostic]:
    """The problems of one cluster's rendered tree (its files, `clusters/<cluster>/...`). policies: per workload
    id, what its environment demands. taken: per workload id, the GPUs placement took on this cluster for each
    component (None: not known, as in a tree proven alone). parsed: the texts parsed so far, shared by the
    clusters of one tree. facts: the cluster's, for its Kubernetes version (None: the newest schemas). charts: the
    archives and Helm's engine, to prove charts on their rendered objects (None: charts are not proven here)."""
    parsed = parsed or Parsed()
    version, note = schema_version(facts.kubernetes_version if facts is not None else None)
    problems: list[Diagnostic] = []
    if note is not None and facts is not None:
        problems.append(warning("W106", f"cluster {plan.cluster!r}: {note}", facts.cluster.meta.loc))
    layers = flux_layers(files, plan.cluster, parsed) if plan.engine == "flux" else {}
    crds = custom_schemas.installed(plan, files, layers, parsed)
    listed = _listed_images(files.get(f"clusters/{plan.cluster}/images.txt", ""))
    capabilities = chart_objects.api_versions(crds, _archives(plan, charts)) if charts else ()
    for release in plan.releases:
        bookings = {b.component: b for b in release.bookings}
        for component in release.components:
            folder = f"clusters/{plan.cluster}/{release.path}/{component.name}"
            own = component_objects(files, folder, layers.get(folder), parsed)
            where = _Where(plan.cluster, release, component.name, component.loc)
            problems += labels.component_problems(where, own, release, component.name)
            application = (f"clusters/{plan.cluster}/apps/{application_name(plan.cluster, release, component)}.yaml"
                           if plan.engine == "argocd" else None)
            built, found = _with_chart(own, component, files, parsed, facts, charts, capabilities, application)
            if any(problem[4] == "W108" for problem in found):
                problems += _unstable(component, charts)
                found = [problem for problem in found if problem[4] != "W108"]
            problems += [where.problem(*problem) for problem in found]
            if charts is not None and built is not own:
                shipped = chart_objects.chart_images(built.objects[len(own.objects):])
                charts.images.setdefault(plan.cluster, set()).update(shipped)
                listed = listed | set(shipped)
            # a workload's GPUs were placed (none taken is 0); a stack's are not placed by capacity
            took = (taken.get(release.id, {}).get(component.name, 0)
                    if taken is not None and release.kind == "workload" else None)
            problems += _gpu_problems(where, built, bookings.get(component.name), component.output.pod_templates,
                                      took)
            problems += claims.landing_problems(where, built, bookings.get(component.name), facts)
            policy = policies.get(release.id, WorkloadPolicy())
            problems += _image_problems(where, built, listed, policy.registries, component.output.pod_templates)
            problems += [where.problem(file, obj, "the object", f"the API server would reject it: {why}", "E814")
                         for file, obj in built.objects
                         if (why := rejection(obj, version, parsed.schemas)
                             or custom_schemas.rejection(obj, crds, parsed.schemas)) is not None]
            problems += _trait_problems(where, built, [t for t in component.traits
                                                       if t.type in policy.required_traits],
                                        component.output.pod_templates)
    problems += labels.release_problems(plan, files, layers, parsed)
    return problems


def _archive(component: Any, charts: ChartProof | None) -> ChartArchive | None:
    helm = component.output.helm
    if charts is None or helm is None:
        return None
    return charts.archives.get(("" if helm.path is not None else helm.repository, helm.chart, helm.version))


def _archives(plan: ClusterPlan, charts: ChartProof | None) -> list[ChartArchive]:
    return [a for release in plan.releases for c in release.components if (a := _archive(c, charts)) is not None]


def _shipped(component: Any, charts: ChartProof | None) -> dict[tuple[str, str], tuple[dict[str, Any], ...]]:
    """The CRDs the component's chart ships in crds/, by the kind they define."""
    archive = _archive(component, charts)
    return {(str((c.get("spec") or {}).get("group")), str(((c.get("spec") or {}).get("names") or {}).get("kind"))):
            (c,) for c in (archive.crds if archive else ())}


def _with_chart(own: ComponentObjects, component: Any, files: dict[str, str], parsed: Parsed,
                facts: ClusterFacts | None, charts: ChartProof | None, capabilities: tuple[str, ...],
                application: str | None = None) -> tuple[ComponentObjects, list[chart_objects.Problem]]:
    """The component's objects, its chart's rendered and patched objects after its own (when easel has the
    chart's archive and its engine), and what went wrong getting them."""
    archive = _archive(component, charts)
    use = chart_objects.chart_use(own, files, parsed) if archive is not None else None
    if use is None and archive is not None and application is not None:  # Argo CD, a chart without a wrapper
        use = chart_objects.application_use(files, application, parsed)
    if charts is None or archive is None or use is None:
        return own, []
    request = chart_objects.ChartRequest(archive, use.values, use.release, use.namespace,
                                         facts.kubernetes_version if facts else None, capabilities)
    rendering = charts.engine.render(request)
    if rendering.failure == "unavailable":
        return own, []  # said once, for every chart (prove/charts.py)
    objects, found = chart_objects.rendered_objects(use, rendering, f"chart {archive.name} {archive.version} "
                                                    f"({archive.file})")
    return ComponentObjects(own.folder, [*own.objects, *objects], own.unproven), found


def _unstable(component: Any, charts: ChartProof | None) -> list[Diagnostic]:
    """A chart that rendered differently twice with the same input (random values, timestamps): said once."""
    archive = _archive(component, charts)
    if charts is None or archive is None or archive.digest in charts.unstable:
        return []
    charts.unstable.add(archive.digest)
    return [warning("W108", f"chart {archive.name} {archive.version} ({archive.file}) renders differently each "
                    "time with the same values (random values or timestamps in its templates): every sync changes "
                    "its objects, and what easel proved is one render of many", component.loc)]


class _Where:
    """The cluster, release and component a proof is about, and the input that made the component."""

    def __init__(self, cluster: str, release: Release, component: str, loc: Any):
        self.cluster, self.release, self.component, self.loc = cluster, release, component, loc

    def problem(self, file: str, obj: dict[str, Any], field: str, message: str, code: str) -> Diagnostic:
        name = (obj.get("metadata") or {}).get("name")
        return error(code, f"cluster {self.cluster!r}: {obj.get('kind')} {name!r} ({file}), {field}: {message}",
                     self.loc, subject=Subject(self.release.kind, (self.release.id,), self.cluster))


def _gpus_asked(template: dict[str, Any], gpus: GpuBooking, claims: dict[str, int]) -> int:
    """GPUs one pod of the template asks for of the booked resource: its containers' limits (device plugin), or
    the devices of its claims made from the booked template that a container uses (DRA)."""
    containers = podtemplates.containers(template)
    if gpus.allocation != "dra":
        return sum(_count(((c.get("resources") or {}).get("limits") or {}).get(gpus.resource)) for c in containers)
    spec = template.get("spec") or {}
    used = {claim.get("name") for c in containers for claim in ((c.get("resources") or {}).get("claims") or ())}
    return sum(claims.get(str(claim.get("resourceClaimTemplateName")), 0)
               for claim in spec.get("resourceClaims") or () if claim.get("name") in used)


def _count(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else 0


def _claim_devices(built: ComponentObjects) -> dict[str, int]:
    """The devices each ResourceClaimTemplate of the component asks for, by name."""
    found = {}
    for _, obj in built.objects:
        if obj.get("kind") == "ResourceClaimTemplate":
            requests = (((obj.get("spec") or {}).get("spec") or {}).get("devices") or {}).get("requests") or ()
            found[str((obj.get("metadata") or {}).get("name"))] = sum(
                int((r.get("exactly") or {}).get("count", 1)) for r in requests if isinstance(r, dict))
    return found


def _gpu_problems(where: _Where, built: ComponentObjects, booking: Booking | None,
                  declared: Any, took: int | None = None) -> list[Diagnostic]:
    pods = [(file, obj, t) for file, obj in built.objects for t in podtemplates.templates(obj, declared)]
    if not pods:
        return []
    claims = _claim_devices(built)
    problems = []
    booked = booking.gpus if booking is not None else ()
    all_asked = 0
    for gpus in booked:
        asked = sum(_gpus_asked(t.template, gpus, claims) * t.pods for _, _, t in pods)
        all_asked += asked
        wanted = gpus.per_replica * gpus.replicas
        if asked != wanted:
            file, obj, _ = pods[0]
            what = "DRA claims' devices" if gpus.allocation == "dra" else f"resources.limits[{gpus.resource!r}]"
            problems.append(where.problem(
                file, obj, f"pod template {what}",
                f"easel booked {gpus.per_replica} × {gpus.replicas} pod(s) = {wanted} of {gpus.resource}; the "
                f"component's pods ask for {asked} ({_per_object(pods, gpus, claims)})", "E810"))
    if booked and took is not None and took != all_asked:
        file, obj, _ = pods[0]
        problems.append(where.problem(
            file, obj, "pod templates' GPUs", f"placement took {took} GPU(s) for the component on this cluster (what "
            f"its capacity and the project's quota were counted against); the pods ask for {all_asked}", "E810"))
    for gpus in booked:
        problems += _landing_problems(where, pods, gpus, claims)
    problems += _unbookable_problems(where, pods, booked, claims)
    names = {g.resource for g in booked}
    for file, obj, t in pods:
        for container in podtemplates.containers(t.template):
            for part in ("limits", "requests"):
                for resource, value in ((container.get("resources") or {}).get(part) or {}).items():
                    if resource.startswith(GPU_RESOURCES) and resource not in names and _count(value):
                        problems.append(where.problem(
                            file, obj, f"container {container.get('name')!r} resources.{part}[{resource!r}]",
                            f"asks for {value} GPU(s) that easel did not book on this cluster", "E810"))
    return problems


def _unbookable_problems(where: _Where, pods: list, booked: tuple[GpuBooking, ...],
                         claims: dict[str, int]) -> list[Diagnostic]:
    """Pods that ask for GPUs in objects whose number of pods at once cannot be booked ahead (a CronJob whose
    runs may overlap, a DaemonSet): counted as one run or one pod, they may request more than easel booked."""
    problems = []
    for file, obj, template in pods:
        why = podtemplates.unbookable(obj)
        if why is not None and any(_gpus_asked(template.template, gpus, claims) for gpus in booked):
            problems.append(where.problem(file, obj, "the object's pods",
                                          f"they ask for GPUs, which cannot be booked for them: {why[1]}", "E810"))
    return problems


def _per_object(pods: list, gpus: GpuBooking, claims: dict[str, int]) -> str:
    return ", ".join(f"{obj.get('kind')} {(obj.get('metadata') or {}).get('name')!r}: "
                     f"{_gpus_asked(t.template, gpus, claims)} × {t.pods}" for _, obj, t in pods)


def _listed_images(text: str) -> set[str]:
    """The images `images.txt` lists as pulled (a line is `IMAGE`, or `SOURCE MIRROR`: the mirror is pulled)."""
    return {line.split()[-1] for line in text.splitlines() if line.strip()}


def _image_problems(where: _Where, built: ComponentObjects, listed: set[str],
                    registries: tuple[str, ...] | None, declared: Any) -> list[Diagnostic]:
    problems = []
    for file, obj in built.objects:
        for template in podtemplates.templates(obj, declared):
            for container in podtemplates.containers(template.template):
                image = container.get("image")
                if not isinstance(image, str):
                    continue
                field = f"container {container.get('name')!r} image"
                if image not in listed:
                    problems.append(where.problem(file, obj, field, f"{image!r} is not listed in images.txt, "
                                                  "so a mirror would not have it", "E812"))
                if registries is not None and not images.allowed(image, registries):
                    problems.append(where.problem(file, obj, field, f"{image!r} is not from a registry the "
                                                  f"environment allows ({', '.join(registries) or 'none'})",
                                                  "E812"))
    return problems


def _trait_problems(where: _Where, built: ComponentObjects, required: list[ResolvedTrait],
                    declared: Any) -> list[Diagnostic]:
    """A required trait reached a pod-bearing object when applying its patches once more changes nothing."""
    problems = []
    for trait in required:
        for file, obj in built.objects:
            if not podtemplates.is_pod_bearing(obj, declared):
                continue
            again = with_string_fields(podtemplates.patched(obj, list(trait.output.patches), declared))
            differs = _first_difference(obj, again)
            if differs is not None:
                problems.append(where.problem(file, obj, differs, f"the environment requires trait {trait.type!r}, "
                                              "and what it sets is not there", "E813"))
    return problems


def _first_difference(found: Any, wanted: Any, path: str = "") -> str | None:
    """The first field path where two objects differ (None: they are equal)."""
    if isinstance(found, dict) and isinstance(wanted, dict):
        for key in sorted(set(found) | set(wanted), key=str):
            if found.get(key) != wanted.get(key):
                return _first_difference(found.get(key), wanted.get(key), f"{path}.{key}" if path else str(key))
        return None
    if isinstance(found, list) and isinstance(wanted, list) and len(found) == len(wanted):
        for index, (a, b) in enumerate(zip(found, wanted, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{path}[{index}]")
        return None
    return None if found == wanted else path or "(the object)"


def _landing_problems(where: _Where, pods: list, gpus: GpuBooking, claims: dict[str, int]) -> list[Diagnostic]:
    """A booking of named products: every pod that asks for its GPUs can land only on nodes of those products
    (its node selector or required affinity on GPU Feature Discovery's product label), never on GPUs easel
    counts as free. (Under DRA, the claim's selectors say which devices.)"""
    if not gpus.products or gpus.allocation == "dra":
        return []
    problems = []
    for file, obj, template in pods:
        if not _gpus_asked(template.template, gpus, claims):
            continue
        admitted = _products_admitted(template.template)
        outside = sorted(admitted - set(gpus.products)) if admitted is not None else None
        if outside is None or outside:
            found = "any product" if outside is None else ", ".join(outside)
            problems.append(where.problem(
                file, obj, f"pod template nodeSelector/affinity[{PRODUCT_LABEL!r}]",
                f"easel booked {', '.join(gpus.products)}; the pods can also land on {found}", "E815"))
    return problems


def _products_admitted(template: dict[str, Any]) -> set[str] | None:
    """The GPU products a pod may land on by its node selector and required node affinity (time-sliced ones by
    their product); None when nothing narrows them."""
    spec = template.get("spec") or {}
    admitted: set[str] | None = None
    selected = (spec.get("nodeSelector") or {}).get(PRODUCT_LABEL)
    if isinstance(selected, str):
        admitted = {selected.removesuffix(SHARED_SUFFIX)}
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution") or {}
    terms = required.get("nodeSelectorTerms") or []
    per_term: list[set[str] | None] = []
    for term in terms:  # a node may match any term: the products are those of every term together
        values: set[str] | None = None
        for expression in term.get("matchExpressions") or ():
            if expression.get("key") == PRODUCT_LABEL and expression.get("operator") == "In":
                found = {str(v).removesuffix(SHARED_SUFFIX) for v in expression.get("values") or ()}
                values = found if values is None else values & found
        per_term.append(values)
    if per_term and all(v is not None for v in per_term):
        by_affinity = set().union(*(v for v in per_term if v is not None))
        admitted = by_affinity if admitted is None else admitted & by_affinity
    return admitted
