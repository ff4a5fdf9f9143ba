"""Argo CD output: a hub Argo CD syncs clusters/<name> (Applications only) and each Application deploys to the
cluster registered under that name.

  kustomization.yaml                         the cluster's app-of-apps: the Applications and AppProjects in apps/
                                             and projects/ (not those below apps/<project>/)
  apps/<application>.yaml                    the namespaces' Application, one per infrastructure stack component,
                                             and one per workload (<cluster>-apps-<project>-<workload>)
  apps/<project>/<workload>/                 a workload's own app-of-apps, which its Application syncs: one
                                             Application per component (+ kustomization.yaml)
  projects/<appproject>.yaml                 an AppProject per easel Project, the infrastructure, the namespaces
  namespaces/                                Namespace, ResourceQuota, NetworkPolicy (+ kustomization.yaml)
  workloads/<project>/<workload>/<component>/
                                             a Kustomize folder an Application points at: plain objects, or a
                                             chart with trait patches (`helmCharts`, needs
                                             `kustomize.buildOptions: --enable-helm` in argocd-cm), or a
                                             kustomize folder with the workload's labels and trait patches
  repository/<path>/                         the repository's kustomize folders those build on, copied (a tree is
                                             self-contained: a published branch alone is enough)
Ordering: sync waves, which order only the Applications of one tree. The cluster's: AppProjects (-30), namespaces
(-20), the infrastructure stacks' components (-10 and up, by dependsOn depth), then every workload's Application
in one wave after them (0 unless a stack runs deeper). A sync's last wave does not wait for health, so one
workload's unhealthy Application holds back no other's; each workload's own tree orders its components by the
depth of their dependsOn (0 and up).
"""

from __future__ import annotations

import posixpath
from typing import Any

from compiler.decide.resolve import STACKS, ResolvedComponent
from compiler.kube import names
from compiler.kube.api import is_custom
from compiler.model import DEFAULT_RELEASE, ReleaseOptions, Settings
from compiler.model.charts import git_commit
from compiler.plan import MANAGED_BY, ClusterPlan, HydratedChart, Plans, Release
from compiler.plan.private_charts import kustomize_inflates
from compiler.render import delivery
from compiler.render.objects import (
    IMMUTABLE_TEMPLATES,
    carried_folder,
    chart_labels,
    component_objects,
    folder_labels,
    in_house_folder,
    kustomization,
    kustomize_images,
    kustomize_patches,
    namespace_objects,
    text_of,
    trait_objects,
)

ARGOCD_NAMESPACE = "argocd"
ARGOCD_PROJECT = "default"  # the app-of-apps' own project, on the hub
NAMESPACES_PROJECT = "namespaces"
PROJECTS_WAVE = -30  # the AppProjects before the Applications that use them
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
RECREATE = ("Force=true", "Replace=true")  # Argo CD deletes and creates the object again
SKIP_DRY_RUN = "SkipDryRunOnMissingResource=true"
IN_CLUSTER = "https://kubernetes.default.svc"
NAMESPACES_WAVE = -20  # namespaces first,
STACK_WAVE = -10  # then the infrastructure stacks (their own dependsOn on top), then workloads from wave 0


def _application(name: str, labels: dict[str, str], wave: int, destination: dict[str, str],
                 source: dict[str, Any], project: str, create_namespace: bool = False,
                 options: ReleaseOptions = DEFAULT_RELEASE) -> dict[str, Any]:
    sync: dict[str, Any] = {"automated": {"prune": True, "selfHeal": True}}
    sync_options = [*(["CreateNamespace=true"] if create_namespace else []),
                    *(o for o in options.sync_options if o != "CreateNamespace=true")]
    if sync_options:
        sync["syncOptions"] = sync_options
    if options.sync_retries:  # Argo CD's documented backoff: 5s, doubling, at most 3m
        sync["retry"] = {"limit": options.sync_retries,
                         "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": ARGOCD_NAMESPACE, "labels": labels,
                         "annotations": {SYNC_WAVE: str(wave)},
                         # foreground cascading deletion, written domain-qualified (the API server warns otherwise)
                         "finalizers": ["resources-finalizer.argocd.argoproj.io/foreground"]},
            "spec": {"project": project, "destination": destination, "source": source, "syncPolicy": sync}}


def application_name(cluster: str, release: Release, component: ResolvedComponent) -> str:
    """The Application of a component on a cluster (its file: application_file)."""
    return names.join(cluster, release.group, component.instance)


def apps_folder(release: Release) -> str:
    """Where the release's component Applications lie in the cluster's tree: a workload's in a folder of its own,
    which its Application syncs; a stack's in apps/, the cluster's app-of-apps."""
    return f"apps/{release.group}/{release.name}" if release.kind == "workload" else "apps"


def application_file(cluster: str, release: Release, component: ResolvedComponent) -> str:
    """The file of a component's Application, in the cluster's tree (the proof reads it there)."""
    return f"{apps_folder(release)}/{application_name(cluster, release, component)}.yaml"


def workload_application_name(cluster: str, release: Release) -> str:
    """The Application that syncs a workload's own Applications (its file: apps/<name>.yaml), named after that
    folder: <cluster>-<project>-<workload> would be the Application of component <workload'>-<c> of another
    workload <workload'> (shop's web and workload shop-web), and two trees would fight over it."""
    return names.join(cluster, "apps", release.group, release.name)


def project_name(cluster: str, group: str) -> str:
    """The AppProject of an easel Project (or of the infrastructure) on one cluster."""
    return names.join(cluster, group)


def _app_project(name: str, cluster: str, group: str, sources: set[str], namespaces: set[str]) -> dict[str, Any]:
    """Governance carried into Argo CD: a team's Applications may sync only from the repositories its workloads
    use, only into the namespaces easel placed them in on that cluster, and create no cluster-scoped object but
    CRDs (which operators in team workloads install); the infrastructure's may create cluster-scoped objects."""
    infrastructure = group in (STACKS, NAMESPACES_PROJECT)
    spec: dict[str, Any] = {
        "description": f"easel: {'project ' + group if not infrastructure else group} on {cluster}",
        "sourceRepos": sorted(sources),
        # the namespaces Application has no destination namespace of its own (Namespaces are cluster-scoped)
        "destinations": ([{"name": cluster, "namespace": "*"}] if group == NAMESPACES_PROJECT else
                         [{"name": cluster, "namespace": n} for n in sorted(namespaces)]),
        "clusterResourceWhitelist": ([{"group": "*", "kind": "*"}] if infrastructure else
                                     [{"group": "apiextensions.k8s.io", "kind": "CustomResourceDefinition"}]),
    }
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
            "metadata": {"name": name, "namespace": ARGOCD_NAMESPACE, "labels": dict(MANAGED_BY),
                         "annotations": {SYNC_WAVE: str(PROJECTS_WAVE)}},
            "spec": spec}


def _helm_repo_url(url: str) -> str:
    # Argo CD names Helm OCI registries without the scheme (the repository is registered with enableOCI)
    return url[len("oci://"):] if url.startswith("oci://") else url


def _wrapper(release: Release, component: ResolvedComponent) -> dict[str, Any] | None:
    """The kustomization fields that carry a component's traits onto a chart or folder; None for a chart without
    any. A folder always has one: its objects carry the workload's labels (SPEC §6). `labels` without selectors,
    not `commonLabels`: that would add them to selectors too, and a selector is immutable, so a version bump
    (easel.dev/profile-version) could not be applied."""
    folder = component.output.kustomize_path is not None
    if not (folder or kustomize_inflates(release, component)):  # (the plan refuses a private chart that is: E806)
        return None
    patches = kustomize_patches(release, component)
    image_rewrites = kustomize_images(component)
    extra = trait_objects(release, component)
    # the workload's labels ride along, as Flux's commonMetadata does
    labels = folder_labels(release, component) if folder else chart_labels(release, component)
    body: dict[str, Any] = {"labels": [{"pairs": labels, "includeSelectors": False}]}
    if patches:
        body["patches"] = patches
    if image_rewrites:
        body["images"] = image_rewrites
    return {"body": body, "objects": extra}


def _no_dry_run_before_crd(obj: dict[str, Any]) -> dict[str, Any]:
    """A custom resource whose CRD may arrive in the same sync (a chart of an earlier wave installs it) would fail
    Argo CD's dry run: it skips that when the CRD is missing (harmless where the CRD is there). A Job, whose pod
    template cannot change in place, is replaced (deleted and created again) when a new version changes it."""
    wanted = [SKIP_DRY_RUN] if is_custom(obj) else list(RECREATE) if obj.get("kind") in IMMUTABLE_TEMPLATES else []
    if not wanted:
        return obj
    metadata = dict(obj["metadata"])
    annotations = dict(metadata.get("annotations") or {})
    options = [o for o in annotations.get(SYNC_OPTIONS, "").split(",") if o]
    annotations[SYNC_OPTIONS] = ",".join([*options, *(o for o in wanted if o not in options)])
    metadata["annotations"] = annotations
    return {**obj, "metadata": metadata}


def _component_folder(plans: Plans, release: Release, component: ResolvedComponent,
                      kube_version: str | None = None) -> dict[str, str] | None:
    """Files of the folder an Application points at, or None when the Application needs none."""
    if release.hydrates(component):
        return _hydrated_folder(release, component)
    if component.output.helm is None and not component.output.kustomize_path:
        objects = [_no_dry_run_before_crd(o) for o in component_objects(release, component)]
        return {"objects.yaml": text_of(objects), "kustomization.yaml": text_of([kustomization(["objects.yaml"])])}
    wrapper = _wrapper(release, component)
    if wrapper is None:
        return None
    files = {}
    if wrapper["objects"]:
        files["objects.yaml"] = text_of([_no_dry_run_before_crd(o) for o in wrapper["objects"]])
    helm = component.output.helm
    if helm is not None:
        namespace = helm.namespace or release.namespace.name
        # an in-house chart: no repo, so kustomize takes it from charts/<name> beside the kustomization
        source = ({"repo": plans.repositories[helm.repository].url, "version": helm.version}
                  if helm.path is None else {})
        chart: dict[str, Any] = {"name": helm.chart, **source,
                                 "releaseName": helm.release_name or component.instance, "namespace": namespace,
                                 "includeCRDs": True}
        if kube_version:  # kustomize renders for Helm's default Kubernetes version unless told the cluster's
            chart["kubeVersion"] = kube_version
        if helm.values:
            chart["valuesInline"] = helm.values
        body = {"namespace": namespace, "helmCharts": [chart], **wrapper["body"]}
        resources = list(files)
    else:
        # a folder of the repository, as the cluster's tree carries it
        body = {"namespace": release.namespace.name, **wrapper["body"]}
        folder = component.output.kustomize_path
        if folder is None:  # pragma: no cover  (a component here is a chart or a folder)
            raise ValueError(f"component {component.name!r} is neither a chart nor a folder")
        resources = [posixpath.relpath(carried_folder(folder), f"{release.path}/{component.name}"), *files]
    files["kustomization.yaml"] = text_of([kustomization(resources, **body)])
    return files


def _hydrated_folder(release: Release, component: ResolvedComponent) -> dict[str, str]:
    """A hydrated chart as plain objects: its CRDs (in a wave before the rest), its hooks as Argo CD's PreSync and
    PostSync hooks (the hydrate stage annotated them), its objects and those its traits add."""
    chart = release.hydrated.get(component.name) or HydratedChart()
    objects = [*(obj for _, obj in chart.crds), *(obj for _, obj in chart.before),
               *(_no_dry_run_before_crd(obj) for _, obj in chart.objects),
               *(obj for _, obj in chart.after),
               *(_no_dry_run_before_crd(obj) for obj in trait_objects(release, component))]
    return {"objects.yaml": text_of(objects), "kustomization.yaml": text_of([kustomization(["objects.yaml"])])}


def release_files(plans: Plans, release: Release, cluster: str, cache: dict | None = None,
                  first_wave: int = 0) -> dict[str, str]:
    """The release's component folders and Applications on the cluster. A component's folder is the same on
    every cluster that plans the release alike (its path is as deep on each), so it is rendered once (cache);
    the Applications name their cluster. first_wave: that of its components without dependsOn (a stack's,
    stack_waves)."""
    files: dict[str, str] = {}
    settings = plans.settings
    cache = {} if cache is None else cache
    version = plans.clusters[cluster].kubernetes_version if cluster in plans.clusters else None
    for component in release.components:
        key = ("argocd-folder", release.key, component.name, version)
        if release.key and key in cache:
            folder = cache[key]
        else:
            folder = _component_folder(plans, release, component, version)
            if release.key:
                cache[key] = folder
        helm = component.output.helm
        namespace = (helm.namespace if helm and helm.namespace else None) or release.namespace.name
        if folder is not None:
            for name, text in folder.items():
                files[f"{release.path}/{component.name}/{name}"] = text
            source = delivery.argo_source(settings, cluster, f"{release.path}/{component.name}")
        elif helm is not None and helm.path is not None:  # an in-house chart without traits: its folder
            source = {**delivery.argo_source(settings, cluster, in_house_folder(release, component)),
                      "helm": {"releaseName": helm.release_name or component.instance}}
            if helm.values:
                source["helm"]["valuesObject"] = helm.values
        else:  # a chart without traits (a folder always has its kustomization: _wrapper)
            assert helm is not None
            repository = plans.repositories[helm.repository]
            named = {"path": helm.git_path} if helm.git_path is not None else {"chart": helm.chart}
            # a Git chart: at the commit `easel charts pull` read it at, which easel.lock pins; else at its ref
            pinned = git_commit(plans.chart_manifests.get(helm.key)) if helm.git_path is not None else None
            source = {"repoURL": _helm_repo_url(repository.url), **named, "targetRevision": pinned or helm.version,
                      "helm": {"releaseName": helm.release_name or component.instance}}
            if helm.values:
                source["helm"]["valuesObject"] = helm.values
        app_name = application_name(cluster, release, component)
        application = _application(app_name, release.labels_for(component.name), first_wave + component.wave,
                                   {"name": cluster, "namespace": namespace}, source,
                                   project_name(cluster, release.group), create_namespace=bool(helm and helm.namespace),
                                   options=component.release)
        files[application_file(cluster, release, component)] = text_of([application])
    return files


def stack_waves(plan: ClusterPlan) -> dict[str, int]:
    """The first wave of each stack's Applications on the cluster (its components' dependsOn waves on top): from
    STACK_WAVE, after the last wave of every stack it requires, as Flux's layers wait for theirs."""
    by_id = {stack.id: stack for stack in plan.stacks}
    first: dict[str, int] = {}

    def start(stack: Release, chain: frozenset[str]) -> int:
        if stack.id not in first:
            after = [start(by_id[r], chain | {stack.id}) + max((c.wave for c in by_id[r].components), default=0) + 1
                     for r in stack.requires if r in by_id and r not in chain]
            first[stack.id] = max([STACK_WAVE, *after])
        return first[stack.id]

    for stack in plan.stacks:
        start(stack, frozenset())
    return first


def workloads_wave(plan: ClusterPlan, starts: dict[str, int]) -> int:
    """The one wave of every workload's Application in the cluster's app-of-apps: after every stack's (starts:
    stack_waves)."""
    return max([0, *(starts[stack.id] + component.wave + 1 for stack in plan.stacks for component in stack.components)])


def _workload_tree(settings: Settings, release: Release, cluster: str, wave: int) -> dict[str, str]:
    """A workload's own app-of-apps: the listing of its component Applications, and the Application that syncs
    it. That one is in the project of the app-of-apps on the hub (ARGOCD_PROJECT), as the ApplicationSet's are:
    it creates Applications in argocd, which no team's AppProject may; the components' stay in the team's."""
    folder = apps_folder(release)
    listed = sorted(posixpath.basename(application_file(cluster, release, c)) for c in release.components)
    name = workload_application_name(cluster, release)
    application = _application(name, release.grouping_labels, wave,
                               {"server": IN_CLUSTER, "namespace": ARGOCD_NAMESPACE},
                               delivery.argo_source(settings, cluster, folder), ARGOCD_PROJECT)
    return {f"{folder}/kustomization.yaml": text_of([kustomization(listed)]),
            f"apps/{name}.yaml": text_of([application])}


def _sources(plans: Plans, release: Release, cluster: str) -> set[str]:
    """The repositories the release's Applications sync from: the cluster's tree (the rendered repository, or
    its artifact; kustomize folders are copied into it), and its charts' Helm repositories."""
    found = {delivery.argo_repo_url(plans.settings, cluster)}
    for component in release.components:
        if component.output.helm and component.output.helm.path is None and not release.hydrates(component):
            found.add(_helm_repo_url(plans.repositories[component.output.helm.repository].url))
    return found


def render_cluster(plans: Plans, plan: ClusterPlan, cache: dict) -> dict[str, str]:
    cluster = plan.cluster
    files: dict[str, str] = {}
    namespaces: dict[str, str] = {}
    projects: dict[str, tuple[set[str], set[str]]] = {}  # group -> (its sources, its namespaces)
    starts = stack_waves(plan)  # stacks before their users, and after the stacks they require
    wave = workloads_wave(plan, starts)
    for release in plan.releases:
        files.update(release_files(plans, release, cluster, cache,
                                   starts.get(release.id, STACK_WAVE) if release.kind == "stack" else 0))
        if release.kind == "workload" and release.components:
            files.update(_workload_tree(plans.settings, release, cluster, wave))
        sources, where = projects.setdefault(release.group, (set(), set()))
        sources |= _sources(plans, release, cluster)
        where |= {(c.output.helm.namespace if c.output.helm and c.output.helm.namespace else release.namespace.name)
                  for c in release.components}
        if not release.uses_namespace:
            continue  # every chart of it goes to a namespace of its own: nothing would use this one
        ns_key = ("namespace", release.key)
        if ns_key not in cache:
            cache[ns_key] = text_of(namespace_objects(release.namespace))
        namespaces.setdefault(f"{release.namespace.name}.yaml", cache[ns_key])
    if namespaces:
        for name, text in namespaces.items():
            files[f"namespaces/{name}"] = text
        files["namespaces/kustomization.yaml"] = text_of([kustomization(list(namespaces))])
        app_name = names.join(cluster, "namespaces")
        source = delivery.argo_source(plans.settings, cluster, "namespaces")
        application = _application(app_name, dict(MANAGED_BY), NAMESPACES_WAVE, {"name": cluster}, source,
                                   project_name(cluster, NAMESPACES_PROJECT))
        files[f"apps/{app_name}.yaml"] = text_of([application])
        projects[NAMESPACES_PROJECT] = ({delivery.argo_repo_url(plans.settings, cluster)},
                                        {n.removesuffix(".yaml") for n in namespaces})
    for group, (sources, where) in projects.items():
        name = project_name(cluster, group)
        files[f"projects/{name}.yaml"] = text_of([_app_project(name, cluster, group, sources, where)])
    # the app-of-apps: not the workloads' own Applications (apps/<project>/<workload>/), which theirs sync
    listed = [path for path in files if path.startswith(("apps/", "projects/")) and path.count("/") == 1]
    files["kustomization.yaml"] = text_of([kustomization(listed)])
    return dict(sorted(files.items()))


def bootstrap(settings: Settings, clusters: list[str]) -> dict[str, str]:
    """An ApplicationSet on the hub: one app-of-apps per Argo CD cluster, syncing its folder into argocd."""
    appset = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": "easel-clusters", "namespace": ARGOCD_NAMESPACE, "labels": dict(MANAGED_BY)},
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [{"list": {"elements": [{"cluster": c} for c in sorted(clusters)]}}],
            "template": {
                "metadata": {"name": "easel-{{ .cluster }}", "labels": dict(MANAGED_BY)},
                "spec": {
                    "project": ARGOCD_PROJECT,
                    "source": delivery.argo_source(settings, "{{ .cluster }}", ""),
                    "destination": {"server": IN_CLUSTER, "namespace": ARGOCD_NAMESPACE},
                    "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
                },
            },
        },
    }
    return {"bootstrap/argocd/applicationset.yaml": text_of([appset])}
