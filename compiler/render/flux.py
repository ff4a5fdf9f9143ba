"""Flux output: a cluster's tree that its own Flux applies, layer by layer, so that it applies in order on an
empty cluster: the namespaces, then each infrastructure stack, then each workload's components in `dependsOn`
order. Each layer is a Flux Kustomization (in flux/layers/) over one folder, `dependsOn` the layers it needs,
and waits for its objects to be ready (`wait: true`) when a later layer needs them (a chart's CRDs, a
dependency's readiness). The bootstrap Kustomization applies flux/: the sources and the layers.

  kustomization.yaml                         every object file below (`kustomize build` of the whole cluster)
  flux/kustomization.yaml                    what the bootstrap applies: the sources and the layers
  flux/sources/<name>.yaml                   HelmRepository / OCIRepository (in flux-system)
  flux/layers/<layer>.yaml                   a Flux Kustomization per layer
  namespaces/                                Namespace, ResourceQuota, NetworkPolicy (+ kustomization.yaml)
  infrastructure/<stack>/<component>/        a stack's component: objects.yaml (+ kustomization.yaml)
  workloads/<project>/<workload>/<component>/
                                             a workload's component: objects.yaml holds its HelmRelease, its
                                             Kustomization (kustomize folders) or its plain objects, and the
                                             objects its traits add (+ kustomization.yaml)
  repository/<path>/                         the repository's kustomize folders its components build, copied
                                             (a tree is self-contained: a published branch alone is enough)
"""

from __future__ import annotations

import math
import re
from typing import Any

from compiler.decide.resolve import ResolvedComponent
from compiler.kube import names
from compiler.model import Repository, Settings
from compiler.model.charts import git_commit
from compiler.plan import MANAGED_BY, ClusterPlan, HydratedChart, Plans, Release
from compiler.render import delivery
from compiler.render.layers import hydrated_layer, layer_name, ready_layer
from compiler.render.objects import (
    IMMUTABLE_TEMPLATES,
    carried_folder,
    chart_labels,
    component_objects,
    folder_labels,
    has_jobs,
    in_house_folder,
    kustomization,
    kustomize_images,
    kustomize_patches,
    namespace_objects,
    text_of,
    trait_objects,
)

FLUX_NAMESPACE = "flux-system"
HELM_CHART_MEDIA_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"


def _source_name(repository: Repository, chart: str, version: str) -> str:
    if repository.type == "oci":  # an OCIRepository is one chart at one version
        return names.join(repository.meta.name, names.slug(chart), names.slug(version))  # names are never paths
    if repository.type == "git" and repository.meta.name == delivery.SOURCE:  # the bootstrap's GitRepository's name
        return names.join(delivery.SOURCE, "charts")
    return repository.meta.name


def source_object(settings: Settings, repository: Repository, chart: str, version: str,
                  digest: str | None = None) -> dict[str, Any]:
    """A chart's Flux source. An OCI chart whose manifest easel.lock pins (digest) is pulled by that digest: the
    bytes easel proved, whatever the tag points at later. A Git Repository's charts whose commit easel.lock pins
    (digest: the commit `easel charts pull` read them at) are read at that commit: `ref.commit` beside the branch
    or tag as written (the commit takes precedence; a branch is what Flux clones to find it)."""
    interval = settings.interval
    name = _source_name(repository, chart, version)
    metadata = {"name": name, "namespace": FLUX_NAMESPACE, "labels": dict(MANAGED_BY)}
    if repository.type == "oci":
        spec: dict[str, Any] = {"interval": interval, "url": f"{repository.url.rstrip('/')}/{chart}",
                                "ref": {"digest": digest} if digest else {"tag": version},
                                "layerSelector": {"mediaType": HELM_CHART_MEDIA_TYPE, "operation": "copy"}}
        kind = "OCIRepository"
    elif repository.type == "git":  # the charts a Git repository holds, at the Repository's ref
        spec = {"interval": interval, "url": repository.url}
        if repository.ref is not None:
            spec["ref"] = {repository.ref[0]: repository.ref[1]}
            if git_commit(digest) is not None and repository.ref[0] != "commit":
                spec["ref"]["commit"] = digest
        kind = "GitRepository"
    else:
        spec = {"interval": interval, "url": repository.url}
        kind = "HelmRepository"
    if repository.secret_ref:
        spec["secretRef"] = {"name": repository.secret_ref}
    return {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": kind, "metadata": metadata, "spec": spec}


def helm_release(plans: Plans, release: Release, component: ResolvedComponent,
                 helm_instances: dict[str, str]) -> dict[str, Any]:
    helm = component.output.helm
    assert helm is not None
    interval = plans.settings.interval
    spec: dict[str, Any] = {"interval": interval, "releaseName": helm.release_name or component.instance}
    repository = plans.repositories.get(helm.repository)
    if helm.path is not None or repository is None:  # an in-house chart: its folder in the cluster's tree
        spec["chart"] = {"spec": {
            "chart": delivery.flux_path(plans.settings, CLUSTER, in_house_folder(release, component)),
            "interval": interval, "reconcileStrategy": "Revision",
            "sourceRef": {**delivery.flux_source_ref(plans.settings), "namespace": FLUX_NAMESPACE}}}
    elif repository.type == "oci":
        spec["chartRef"] = {"kind": "OCIRepository", "name": _source_name(repository, helm.chart, helm.version),
                            "namespace": FLUX_NAMESPACE}
    elif helm.git_path is not None:  # a chart folder of a Git repository: a new commit there is a new chart
        spec["chart"] = {"spec": {"chart": f"./{helm.git_path}", "interval": interval,
                                  "reconcileStrategy": "Revision",
                                  "sourceRef": {"kind": "GitRepository", "name": _source_name(repository, "", ""),
                                                "namespace": FLUX_NAMESPACE}}}
    else:
        spec["chart"] = {"spec": {"chart": helm.chart, "version": helm.version, "interval": interval,
                                  "sourceRef": {"kind": "HelmRepository", "name": repository.meta.name,
                                                "namespace": FLUX_NAMESPACE}}}
    if helm.namespace:
        spec["targetNamespace"] = helm.namespace
    depends = [{"name": helm_instances[d]} for d in component.depends_on if d in helm_instances]
    depends += [{"name": name, "namespace": namespace} for name, namespace in release.waits_for]  # stacks it needs
    if depends:
        spec["dependsOn"] = depends
    spec.update(_helm_release_options(component))
    if helm.namespace:
        spec["install"] = {"createNamespace": True, **spec.get("install", {})}
    spec["commonMetadata"] = {"labels": chart_labels(release, component)}
    if helm.values:
        spec["values"] = helm.values
    post = _post_renderer(release, component)
    if post:
        spec["postRenderers"] = [{"kustomize": post}]
    return {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": component.instance, "namespace": release.namespace.name,
                         "labels": release.labels_for(component.name)},
            "spec": spec}


def _helm_release_options(component: ResolvedComponent) -> dict[str, Any]:
    """timeout, install and upgrade (remediation retries, CRD policy), driftDetection, from the release options."""
    options = component.release
    spec: dict[str, Any] = {}
    if options.timeout:
        spec["timeout"] = options.timeout
    install: dict[str, Any] = {}
    upgrade: dict[str, Any] = {}
    if options.retries is not None:
        install["remediation"] = {"retries": options.retries}
        upgrade["remediation"] = {"retries": options.retries, "remediateLastFailure": True}
    if options.crds:
        install["crds"] = "Skip" if options.crds == "Skip" else "Create"  # nothing to replace on install
        upgrade["crds"] = options.crds
    if install:
        spec["install"] = install
    if upgrade:
        spec["upgrade"] = upgrade
    if options.drift_detection:
        spec["driftDetection"] = {"mode": options.drift_detection}
    return spec


def _post_renderer(release: Release, component: ResolvedComponent) -> dict[str, Any]:
    post: dict[str, Any] = {}
    patches = kustomize_patches(release, component)
    if patches:
        post["patches"] = patches
    image_rewrites = kustomize_images(component)
    if image_rewrites:
        post["images"] = image_rewrites
    return post


def kustomize_folder(plans: Plans, release: Release, component: ResolvedComponent,
                     folder_instances: dict[str, str]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "interval": plans.settings.interval, "prune": True,
        "path": delivery.flux_path(plans.settings, CLUSTER, carried_folder(str(component.output.kustomize_path))),
        "sourceRef": delivery.flux_source_ref(plans.settings), "targetNamespace": release.namespace.name,
    }
    depends = [{"name": folder_instances[d]} for d in component.depends_on if d in folder_instances]
    if depends:
        spec["dependsOn"] = depends
    spec["wait"] = True  # Ready once its objects are: the layer around it, and those after, wait for that
    if component.release.timeout:
        spec["timeout"] = component.release.timeout
    post = _post_renderer(release, component)
    if post.get("patches"):
        spec["patches"] = post["patches"]
    if post.get("images"):
        spec["images"] = post["images"]
    spec["commonMetadata"] = {"labels": folder_labels(release, component)}  # every object Flux applies from it
    return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": folder_instances[component.name], "namespace": FLUX_NAMESPACE,
                         "labels": release.labels_for(component.name)},
            "spec": spec}


NAMESPACES_LAYER = "easel-namespaces"
# In layer texts rendered once for many clusters, the cluster's name, filled in last: no cluster name (a DNS
# label) has a "<", and the path it is in is written plain either way.
CLUSTER = "<cluster>"


def _layer(plans: Plans, release: Release, component: ResolvedComponent, depends: list[str],
           wait: bool, folder: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "interval": plans.settings.interval,
        "path": delivery.flux_path(plans.settings, CLUSTER, folder or f"{release.path}/{component.name}"),
        "prune": True, "sourceRef": delivery.flux_source_ref(plans.settings),
        "dependsOn": [{"name": name} for name in depends]}
    if has_jobs(component):  # a Job's pod template cannot change in place: Flux recreates what it cannot patch
        spec["force"] = True
    if wait:
        spec["wait"] = True
        if component.output.helm and not release.hydrates(component):  # long enough for the HelmRelease's
            # install and every retry of it
            spec["timeout"] = _layer_timeout(component)
            spec["retryInterval"] = "1m"
    # what groups the release (SPEC §6): not its version, so a version bump leaves the layers alone
    return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": layer_name(release, component), "namespace": FLUX_NAMESPACE,
                         "labels": release.grouping_labels},
            "spec": spec}


HELM_TIMEOUT_MINUTES = 5  # helm-controller's default for an install or upgrade


def _minutes(duration: str) -> float:
    """A Go duration ("1h30m", "90s") in minutes."""
    units = {"h": 60.0, "m": 1.0, "s": 1 / 60, "ms": 1 / 60000}
    return sum(float(number) * units[unit] for number, unit in re.findall(r"([0-9.]+)(ms|h|m|s)", duration))


def _layer_timeout(component: ResolvedComponent) -> str:
    options = component.release
    each = _minutes(options.timeout) if options.timeout else HELM_TIMEOUT_MINUTES
    return f"{math.ceil(each * ((options.retries or 0) + 1))}m"


def release_files(plans: Plans, release: Release, stack_layers: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """The release's files on a Flux cluster, its layers with the cluster's name left to fill in (the same on
    every cluster with the same plan for it: built once). stack_layers: the cluster's stacks -> their layers."""
    helm_instances = {c.name: c.instance for c in release.components if c.output.helm and not release.hydrates(c)}
    folder_instances = {c.name: names.join(release.namespace.name, c.instance) for c in release.components
                        if c.output.kustomize_path}
    needed = {d for c in release.components for d in c.depends_on}
    before = [name for stack in release.requires for name in stack_layers.get(stack, ())]
    files = {}
    for component in release.components:
        if release.hydrates(component):
            files.update(_hydrated_files(plans, release, component, before, needed))
            continue
        if component.output.helm:
            documents = [helm_release(plans, release, component, helm_instances),
                         *trait_objects(release, component)]
        elif component.output.kustomize_path:
            documents = [kustomize_folder(plans, release, component, folder_instances),
                         *trait_objects(release, component)]
        else:
            documents = component_objects(release, component)
        if not documents:
            continue
        folder = f"{release.path}/{component.name}"
        files[f"{folder}/objects.yaml"] = text_of(documents)
        files[f"{folder}/kustomization.yaml"] = text_of([kustomization(["objects.yaml"])])
        depends = [NAMESPACES_LAYER, *before, *(ready_layer(release, c) for c in release.components
                                                if c.name in component.depends_on)]
        wait = release.kind == "stack" or component.name in needed  # something waits for it
        files[f"flux/layers/{layer_name(release, component)}.yaml"] = text_of(
            [_layer(plans, release, component, depends, wait)])
    return files


def _hydrated_files(plans: Plans, release: Release, component: ResolvedComponent, before: list[str],
                    needed: set[str]) -> dict[str, str]:
    """A hydrated chart's folders and layers: its CRDs first (a layer of their own, never pruned: Helm never
    deletes a CRD, and deleting one deletes every object of its kind), then the hooks that run before an install
    or upgrade, the objects with the objects its traits add, and the hooks that run after. A hooks' layer is
    forced (a hook Job changed is one created again) and waited for, as Helm waits for its hooks."""
    chart = release.hydrated.get(component.name) or HydratedChart()
    folder = f"{release.path}/{component.name}"
    name = layer_name(release, component)
    depends = [NAMESPACES_LAYER, *before, *(ready_layer(release, c) for c in release.components
                                            if c.name in component.depends_on)]
    files: dict[str, str] = {}
    parts = {"crds": chart.crds, "before": chart.before, "after": chart.after}
    layers = {part: hydrated_layer(release, component, part) for part, objects in parts.items() if objects}
    depends += chart.crds_from  # the CRDs it ships that an earlier chart of the cluster writes
    for part, layer in layers.items():
        files[f"{folder}/{part}/objects.yaml"] = text_of([obj for _, obj in parts[part]])
        files[f"{folder}/{part}/kustomization.yaml"] = text_of([kustomization(["objects.yaml"])])
        after = {"crds": [], "before": [*depends, *([layers["crds"]] if "crds" in layers else [])],
                 "after": [name]}[part]
        written = _layer(plans, release, component, after, True, f"{folder}/{part}")
        written["metadata"]["name"] = layer
        if part == "crds":
            written["spec"]["prune"] = False
        else:
            written["spec"]["force"] = True
        files[f"flux/layers/{layer}.yaml"] = text_of([written])
    documents = [obj for _, obj in chart.objects] + trait_objects(release, component)
    files[f"{folder}/objects.yaml"] = text_of(documents)
    files[f"{folder}/kustomization.yaml"] = text_of([kustomization(["objects.yaml"])])
    own = [*depends, *(layers[part] for part in ("crds", "before") if part in layers)]
    wait = release.kind == "stack" or component.name in needed or "after" in layers
    main = _layer(plans, release, component, own, wait)
    if any(obj.get("kind") in IMMUTABLE_TEMPLATES for obj in documents):
        main["spec"]["force"] = True
    files[f"flux/layers/{name}.yaml"] = text_of([main])
    return files


def _namespaces_layer(plans: Plans) -> dict[str, Any]:
    return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": NAMESPACES_LAYER, "namespace": FLUX_NAMESPACE, "labels": dict(MANAGED_BY)},
            "spec": {"interval": plans.settings.interval,
                     "path": delivery.flux_path(plans.settings, CLUSTER, "namespaces"), "prune": True,
                     "sourceRef": delivery.flux_source_ref(plans.settings), "wait": True}}


def render_cluster(plans: Plans, cluster: ClusterPlan, cache: dict) -> dict[str, str]:
    files: dict[str, str] = {}
    namespaces: dict[str, str] = {}
    stack_layers = {s.id: tuple(ready_layer(s, c) for c in s.components) for s in cluster.stacks}
    for release in cluster.releases:
        key = ("flux", release.key, release.waits_for, release.requires,
               tuple(stack_layers.get(s, ()) for s in release.requires))
        if key not in cache:
            cache[key] = release_files(plans, release, stack_layers)
        files.update(cache[key])
        ns_key = ("namespace", release.key)
        if ns_key not in cache:
            cache[ns_key] = text_of(namespace_objects(release.namespace))
        # (a HelmRelease lives in its release's namespace even when its chart installs elsewhere)
        namespaces.setdefault(f"{release.namespace.name}.yaml", cache[ns_key])
        for component in release.components:
            helm = component.output.helm
            if helm is None or helm.path is not None or release.hydrates(component):
                continue
            repository = plans.repositories[helm.repository]
            name = _source_name(repository, helm.chart, helm.version)
            source_key = ("source", name)
            if source_key not in cache:
                digest = plans.chart_manifests.get((helm.repository, helm.chart, helm.version))
                cache[source_key] = text_of([source_object(plans.settings, repository, helm.chart, helm.version,
                                                           digest)])
            files[f"flux/sources/{name}.yaml"] = cache[source_key]
    if namespaces:
        if "namespaces-layer" not in cache:
            cache["namespaces-layer"] = text_of([_namespaces_layer(plans)])
        files[f"flux/layers/{NAMESPACES_LAYER}.yaml"] = cache["namespaces-layer"]
        files.update({f"namespaces/{name}": text for name, text in namespaces.items()})
        files["namespaces/kustomization.yaml"] = _listing(cache, tuple(sorted(namespaces)))
    # layers, the HelmReleases of in-house charts and the Kustomizations of kustomize folders name the cluster's folder
    named = {f"{r.path}/{c.name}/objects.yaml" for r in cluster.releases for c in r.components
             if (c.output.helm is not None and c.output.helm.path is not None) or c.output.kustomize_path}
    files = {path: text.replace(CLUSTER, cluster.cluster) if path.startswith("flux/layers/") or path in named else text
             for path, text in files.items()}
    flux = tuple(sorted(p[len("flux/"):] for p in files if p.startswith("flux/")))
    files["flux/kustomization.yaml"] = _listing(cache, flux)
    objects = tuple(sorted(p for p in files if not p.endswith("kustomization.yaml")))
    files["kustomization.yaml"] = _listing(cache, objects)
    return dict(sorted(files.items()))


def _listing(cache: dict, resources: tuple[str, ...]) -> str:
    """A kustomization.yaml of these resources; clusters that run the same workloads list the same files."""
    if ("kustomization", resources) not in cache:
        cache[("kustomization", resources)] = text_of([kustomization(list(resources))])
    return cache[("kustomization", resources)]


def bootstrap(settings: Settings, clusters: list[str]) -> dict[str, str]:
    """Per cluster, what a person applies once: the Git source and a Kustomization over its layers (flux/).
    Written once with a stand-in for the cluster's name (which only ever sits inside a path or URL, so it
    changes no quoting), unless a setting holds that stand-in itself."""
    if any(CLUSTER in str(value) for value in vars(settings).values()):
        return {f"bootstrap/flux/{cluster}.yaml": _bootstrap_text(settings, cluster) for cluster in clusters}
    template = _bootstrap_text(settings, CLUSTER)
    return {f"bootstrap/flux/{cluster}.yaml": template.replace(CLUSTER, cluster) for cluster in clusters}


def _bootstrap_text(settings: Settings, cluster: str) -> str:
    source = delivery.flux_bootstrap_source(settings, cluster, FLUX_NAMESPACE, MANAGED_BY)
    sync = {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": delivery.SOURCE, "namespace": FLUX_NAMESPACE, "labels": dict(MANAGED_BY)},
            "spec": {"interval": settings.interval, "path": delivery.flux_path(settings, cluster, "flux"),
                     "prune": True, "sourceRef": delivery.flux_source_ref(settings)}}
    return text_of([source, sync])
