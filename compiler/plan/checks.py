"""What the plan checks of each workload as it plans it: namespaces two workloads share, what strict isolation
cuts off, and what a cluster's tree cannot carry."""

from __future__ import annotations

from collections.abc import Mapping

from compiler.decide.resolve import ResolvedWorkload
from compiler.diagnostics import Diagnostic, Diagnostics, Note, Subject, error, warning
from compiler.model import Settings
from compiler.model.folders import KustomizeFolder


def namespaces_agree(cluster: str, workloads: list[ResolvedWorkload], diagnostics: Diagnostics) -> None:
    """Two workloads sharing a namespace on one cluster must agree on its quota and isolation."""
    first: dict[str, ResolvedWorkload] = {}
    for workload in workloads:
        other = first.setdefault(workload.namespace, workload)
        if other is workload:
            continue
        a, b = other.environment, workload.environment
        if not (a.namespace_strategy == b.namespace_strategy == "project"
                and other.workload.project == workload.workload.project):
            # names that run together: project research + workload llm-eval, project research-llm + workload eval
            diagnostics.add(error(
                "E801", f"namespace {workload.namespace!r} on cluster {cluster!r} would hold both {other.id} and "
                f"{workload.id}, which are not meant to share one", workload.workload.meta.loc.at("metadata", "name"),
                "rename one of the workloads (or projects): their namespaces, and the names of their objects, "
                "run together", notes=[Note("the other workload", other.workload.meta.loc.at("metadata", "name"))]))
            continue
        if _namespace_settings(a) != _namespace_settings(b):
            diagnostics.add(error(
                "E801", f"namespace {workload.namespace!r} on cluster {cluster!r} is shared by {other.id} "
                f"(environment {a.meta.name!r}) and {workload.id} (environment {b.meta.name!r}), whose namespace "
                "settings differ", b.meta.loc.at("spec", "namespace"),
                "give the environments the same namespace quota and isolation, or use `strategy: workload`",
                notes=[Note("the other environment", a.meta.loc.at("spec"))]))


# What strict isolation cuts off unless the environment lets other namespaces in (`allowFrom`): an Ingress (the
# ingress controller's pods reach the Service), a ServiceMonitor or PodMonitor (Prometheus scrapes the pods).
REACHED_FROM_OUTSIDE = {"Ingress": "the ingress controller", "ServiceMonitor": "Prometheus",
                        "PodMonitor": "Prometheus"}


def cut_off(workload: ResolvedWorkload) -> list[Diagnostic]:
    environment = workload.environment
    if environment.isolation != "strict" or environment.allow_from:
        return []
    problems = []
    for component in workload.components:
        objects = [*(component.output.objects or ()), *(o for t in component.traits for o in t.output.objects)]
        for obj in objects:
            who = REACHED_FROM_OUTSIDE.get(str(obj.get("kind")))
            if who:
                problems.append(warning(
                    "W105", f"{obj['kind']} {obj['metadata'].get('name')!r} of component {component.name!r}: under "
                    f"strict isolation {who} cannot reach the workload's pods (no namespace.allowFrom)",
                    environment.meta.loc.at("spec", "namespace", "isolation"),
                    subject=Subject("workload", (workload.id,))))
    return problems


def outside_the_tree(workload: ResolvedWorkload, settings: Settings, folders: Mapping[str, KustomizeFolder]
                     ) -> list[Diagnostic]:
    """What a cluster's tree cannot carry: a kustomize folder the repository does not hold (a path templated from
    parameters is known only now), and, with `delivery: oci`, an in-house chart on Flux."""
    problems = [error("E306", f"component {c.name!r}: no kustomization in folder {c.output.kustomize_path!r}", c.loc,
                      "the folder must be under an input folder and hold a kustomization.yaml",
                      subject=Subject("workload", (workload.id,)))
                for c in workload.components if c.output.kustomize_path and c.output.kustomize_path not in folders]
    if settings.delivery != "oci":
        return problems
    # Flux builds a chart from a GitRepository or Bucket, never from a folder of an OCIRepository's artifact
    return problems + [error("E805", f"component {c.name!r} is the in-house chart {c.output.helm.path!r}, which Flux "
                             "cannot build from a cluster's OCI artifact", c.loc,
                             subject=Subject("workload", (workload.id,)))
                       for c in workload.components if c.output.helm is not None and c.output.helm.path is not None
                       and settings.engine == "flux"]


def _namespace_settings(environment) -> tuple:
    return (environment.namespace_quota, environment.isolation, environment.allow_from, environment.egress,
            environment.egress_cidrs, environment.egress_namespaces, environment.pod_security)
