"""The proof of a rendered cluster tree: read back as the cluster will apply it (objects.py), it must hold what
easel decided. For each release and component, the objects the tree really applies:

- carry the labels SPEC §6 gives their kind of object, as do their namespace, layers and Applications (labels.py);
- request the GPUs easel booked on that cluster, no more and no fewer: per resource, the sum over every pod
  template of the GPUs its containers ask for (or its DRA claims' devices) times the pods it runs, equal to the
  booking's GPUs per replica times its replicas, and in all equal to what placement took there (what the
  cluster's capacity and the project's quota were counted against); no GPU a booking does not name; and none
  in objects whose pods at once cannot be counted ahead (a DaemonSet, a CronJob whose runs may overlap);
- pull only images the cluster's `images.txt` lists for mirroring, from the registries the environment allows
  (and the cluster's mirror) and those the cluster allows (its `registry`);
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

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from compiler.decide.inventory import ClusterFacts
from compiler.decide.resolve import ResolvedTrait
from compiler.diagnostics import Diagnostic, Subject, error, warning
from compiler.kube import images, podtemplates
from compiler.kube.api import cluster_scoped_kinds
from compiler.kube.strings import with_string_fields
from compiler.model import RegistryRules, quantity
from compiler.model.gpu import PRODUCT_LABEL, SHARED_SUFFIX
from compiler.plan import Booking, ClusterPlan, GpuBooking, Release
from compiler.prove import chart_objects, chart_tree, claims, custom_schemas, identities, labels, projects
from compiler.prove import quota as quota_rules
from compiler.prove.chart_objects import ChartProof
from compiler.prove.objects import ComponentObjects, Parsed, flux_layers, release_component_objects
from compiler.prove.schemas import rejection, schema_version

AUTOSCALERS = ("HorizontalPodAutoscaler", "ScaledObject")  # Kubernetes' own, KEDA's: they set an object's replicas
GPU_RESOURCES = ("nvidia.com/",)  # the device plugin's resources: whole GPUs, shared GPUs, MIG instances


@dataclass(frozen=True)
class WorkloadPolicy:
    """What a workload's environment demands of its objects."""
    registries: tuple[str, ...] | None = None  # the registries images may come from; None: any
    required_traits: tuple[str, ...] = ()


def prove_cluster(plan: ClusterPlan, files: dict[str, str], policies: Mapping[str, WorkloadPolicy],
                  taken: Mapping[str, Mapping[str, int]] | None = None,
                  parsed: Parsed | None = None, facts: ClusterFacts | None = None,
                  charts: ChartProof | None = None, pulled: set[str] | None = None) -> list[Diagnostic]:
    """The problems of one cluster's rendered tree (its files, `clusters/<cluster>/...`). policies: per workload
    id, what its environment demands. taken: per workload id, the GPUs placement took on this cluster for each
    component (None: not known, as in a tree proven alone). parsed: the texts parsed so far, shared by the
    clusters of one tree. facts: the cluster's, for its Kubernetes version (None: the newest schemas). charts: the
    archives and Helm's engine, to prove charts on their rendered objects (None: charts are not proven here).
    pulled: filled with the images the pods of the kustomize folders the tree carries pull (for images.txt)."""
    parsed = parsed or Parsed()
    version, note = schema_version(facts.kubernetes_version if facts is not None else None)
    problems: list[Diagnostic] = []
    if note is not None and facts is not None:
        problems.append(warning("W106", f"cluster {plan.cluster!r}: {note}", facts.cluster.meta.loc))
    layers = flux_layers(files, plan.cluster, parsed) if plan.engine == "flux" else {}
    crds = custom_schemas.installed(plan, files, layers, parsed)
    listed = _listed_images(files.get(f"clusters/{plan.cluster}/images.txt", ""))
    capabilities = chart_objects.api_versions(crds, chart_tree.archives_of(plan, charts)) if charts else ()
    applied = identities.Applied(plan)
    allowed = projects.project_namespaces(plan) if plan.engine == "argocd" else {}
    problems += [error("E801", f"cluster {plan.cluster!r}: component {component.name!r} of {release.id}: {message}",
                       component.loc, subject=Subject(release.kind, (release.id,), plan.cluster))
                 for release, component, message in applied.engine_clashes]
    for release in plan.releases:
        bookings = {b.component: b for b in release.bookings}
        for component in release.components:
            own = release_component_objects(files, plan.cluster, release, component, layers, parsed)
            where = _Where(plan.cluster, release, component.name, component.loc, plan.engine)
            problems += labels.component_problems(where, own, release, component.name)
            built, found, said = chart_tree.joined(plan, release, component, own, files, parsed, facts, charts,
                                                   capabilities)
            problems += said + [where.problem(*problem) for problem in found]
            listed = listed | charts.images.get(plan.cluster, set()) if charts is not None else listed
            if component.output.kustomize_path:  # what easel saw only now, in the folder the tree carries
                found_images = set(chart_objects.pulled_images(built.objects))
                listed = listed | found_images
                if pulled is not None:
                    pulled |= found_images
            # an object the API server rejects is said so, and checked no further (its fields may not even be
            # of the types the checks read: a chart renders what its templates print)
            rejected = [(file, obj, why) for file, obj in built.objects
                        if (why := rejection(obj, version, parsed.schemas) or custom_schemas.rejection(
                            obj, {**crds, **chart_tree.shipped_crds(component, charts)}, parsed.schemas)) is not None]
            problems += [where.problem(file, obj, "the object", f"the API server would reject it: {why}", "E814")
                         for file, obj, why in rejected]
            if rejected:
                refused = {id(obj) for _, obj, _ in rejected}
                built = ComponentObjects(built.folder, [(f, o) for f, o in built.objects if id(o) not in refused],
                                         built.unproven)
            problems += [where.problem(*clash) for clash in applied.clashes(release, component.name, built.objects)]
            problems += [where.problem(*refusal) for refusal in projects.refused(
                plan, release, built.objects, allowed, cluster_scoped_kinds(
                    crd for same in {**crds, **chart_tree.shipped_crds(component, charts)}.values() for crd in same))]
            problems += _checked(where, built, bookings.get(component.name), component, facts, listed,
                                 policies.get(release.id, WorkloadPolicy()),
                                 taken.get(release.id, {}).get(component.name, 0)
                                 if taken is not None and release.kind == "workload" else None)
    problems += labels.release_problems(plan, files, layers, parsed)
    return problems


def _checked(where: _Where, built: ComponentObjects, booking: Booking | None, component: Any,
             facts: ClusterFacts | None, listed: set[str], policy: WorkloadPolicy, took: int | None
             ) -> list[Diagnostic]:
    """What the component's objects must hold: the GPUs booked (took: what placement took for it on the cluster;
    None for a stack, whose GPUs are not placed by capacity), where its pods can land, its images, the traits
    its environment requires."""
    declared = component.output.pod_templates
    quota = where.release.namespace.quota
    unadmitted = [where.problem(file, obj, field, why, "E821") for file, obj in built.objects
                  if (obj.get("metadata") or {}).get("namespace") in (None, where.release.namespace.name)
                  for field, why in quota_rules.unmet(obj, quota, declared)] if quota else []
    return [*unadmitted, *_gpu_problems(where, built, booking, declared, took),
            *claims.landing_problems(where, built, booking, facts),
            *_image_problems(where, built, listed, policy.registries, declared,
                             facts.cluster.registry if facts is not None else RegistryRules()),
            *_trait_problems(where, built, [t for t in component.traits if t.type in policy.required_traits],
                             declared)]


class _Where:
    """The cluster, release and component a proof is about, and the input that made the component."""

    def __init__(self, cluster: str, release: Release, component: str, loc: Any, engine: str = "flux"):
        self.cluster, self.release, self.component, self.loc = cluster, release, component, loc
        self.release_engine = engine

    def hook_reason(self, obj: dict[str, Any]) -> str:
        """Why a Helm hook lacks what easel's post-renderer sets, on Flux; "" for any other object."""
        if not (chart_objects.is_hook(obj) and self.release_engine == "flux"):
            return ""
        return (" (a Helm hook: Flux's post-renderer reaches hooks only on a helm-controller built on Helm 4 or "
                "3.21 and later, which easel does not count on; set it through the chart's values with "
                "`traitValues`, or an image through `imageValues`)")

    def problem(self, file: str, obj: dict[str, Any], field: str, message: str, code: str) -> Diagnostic:
        name = (obj.get("metadata") or {}).get("name")
        return error(code, f"cluster {self.cluster!r}: {obj.get('kind')} {name!r} ({file}), {field}: {message}",
                     self.loc, subject=Subject(self.release.kind, (self.release.id,), self.cluster))


def _gpus_asked(template: dict[str, Any], gpus: GpuBooking, claims: dict[str, int]) -> int:
    """GPUs one pod of the template asks for of the booked resource: its containers' limits (device plugin), or
    the devices of its claims made from the booked template that a container uses (DRA)."""
    containers = podtemplates.containers(template)
    spec = template.get("spec") or {}
    if gpus.allocation != "dra":  # as the scheduler counts a pod: its containers and sidecars together, or its
        # largest init container (init containers run one at a time, before the others), whichever is more
        def limit(c: dict[str, Any]) -> int:
            return _count(((c.get("resources") or {}).get("limits") or {}).get(gpus.resource))
        inits = [c for c in spec.get("initContainers") or () if isinstance(c, dict)]
        sidecars = [c for c in inits if c.get("restartPolicy") == "Always"]
        running = sum(limit(c) for c in (*(c for c in spec.get("containers") or () if isinstance(c, dict)), *sidecars))
        return max([running, *(limit(c) for c in inits if c.get("restartPolicy") != "Always")])
    used = {claim.get("name") for c in containers for claim in ((c.get("resources") or {}).get("claims") or ())}
    return sum(claims.get(str(claim.get("resourceClaimTemplateName")), 0)
               for claim in spec.get("resourceClaims") or () if claim.get("name") in used)


def _count(value: Any) -> int:
    """A GPU count as Kubernetes reads the quantity ("2", 2, "2000m", "2e0" are two); a fraction of one, which the
    API server refuses for an extended resource, counts as the next whole GPU, so it never matches a booking."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return 0
    try:
        return math.ceil(quantity.parse(value))
    except (ValueError, ZeroDivisionError, OverflowError):
        return 0


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
    scalers = [obj for _, obj in built.objects if obj.get("kind") in AUTOSCALERS]
    problems += _unbookable_problems(where, pods, booked, claims, scalers)
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
                         claims: dict[str, int], scalers: list[dict[str, Any]]) -> list[Diagnostic]:
    """Pods that ask for GPUs in objects whose number of pods at once cannot be booked ahead (a CronJob whose
    runs may overlap, a DaemonSet), or that an autoscaler may scale past what easel booked: counted as one run,
    one pod or their replicas, they may request more than easel booked."""
    problems = []
    scaled = _autoscaled([obj for _, obj, _ in pods], scalers)
    for file, obj, template in pods:
        why = podtemplates.unbookable(obj)
        asks = any(_gpus_asked(template.template, gpus, claims) for gpus in booked)
        if why is not None and asks:
            problems.append(where.problem(file, obj, "the object's pods",
                                          f"they ask for GPUs, which cannot be booked for them: {why[1]}", "E810"))
        most, scaler = scaled.get(id(obj), (0, ""))
        if asks and most > template.pods:
            problems.append(where.problem(
                file, obj, "the object's pods", f"{scaler} may run up to {most} of them, each asking for GPUs; easel "
                f"booked {template.pods}: cap its replicas at those booked, or book them (the `replicas` trait)",
                "E810"))
    return problems


def _autoscaled(objects: list[dict[str, Any]], scalers: list[dict[str, Any]]) -> dict[int, tuple[int, str]]:
    """Per object (by id) an autoscaler scales (a HorizontalPodAutoscaler, a KEDA ScaledObject): the most pods it
    may run, and which autoscaler it is."""
    targets: dict[tuple[str, str], tuple[int, str]] = {}
    for scaler in scalers:
        spec: dict[str, Any] = scaler["spec"] if isinstance(scaler.get("spec"), dict) else {}
        ref: dict[str, Any] = spec["scaleTargetRef"] if isinstance(spec.get("scaleTargetRef"), dict) else {}
        most = spec.get("maxReplicas") if scaler.get("kind") == "HorizontalPodAutoscaler" else spec.get(
            "maxReplicaCount", 100)  # KEDA's default
        name = f"{scaler.get('kind')} {(scaler.get('metadata') or {}).get('name')!r}"
        targets[(str(ref.get("kind") or "Deployment"), str(ref.get("name")))] = (
            most if isinstance(most, int) and not isinstance(most, bool) else 0, name)
    return {id(obj): targets[key] for obj in objects
            if (key := (str(obj.get("kind")), str((obj.get("metadata") or {}).get("name")))) in targets}


def _per_object(pods: list, gpus: GpuBooking, claims: dict[str, int]) -> str:
    return ", ".join(f"{obj.get('kind')} {(obj.get('metadata') or {}).get('name')!r}: "
                     f"{_gpus_asked(t.template, gpus, claims)} × {t.pods}" for _, obj, t in pods)


def _listed_images(text: str) -> set[str]:
    """The images `images.txt` lists as pulled (a line is `IMAGE`, or `SOURCE MIRROR`: the mirror is pulled)."""
    return {line.split()[-1] for line in text.splitlines() if line.strip()}


def _image_problems(where: _Where, built: ComponentObjects, listed: set[str], registries: tuple[str, ...] | None,
                    declared: Any, cluster: RegistryRules) -> list[Diagnostic]:
    """Images listed for mirroring, from a registry the environment allows (the cluster's mirror stands for the
    registry an image was copied from: the environment judged it before, decide/policy.py) and the cluster allows."""
    if registries is not None and cluster.mirror is not None:
        registries = (*registries, cluster.mirror)
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
                                                  f"environment allows ({', '.join(registries) or 'none'})"
                                                  f"{where.hook_reason(obj)}", "E812"))
                if cluster.allowed is not None and not images.allowed(image, cluster.allowed):
                    problems.append(where.problem(file, obj, field, f"{image!r} is not from a registry the cluster "
                                                  f"allows ({', '.join(cluster.allowed) or 'none'})"
                                                  f"{where.hook_reason(obj)}", "E822"))
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
                                              f"and what it sets is not there{where.hook_reason(obj)}", "E813"))
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
