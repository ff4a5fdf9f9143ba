"""The labels of a rendered cluster tree, by kind of object, as SPEC §6 defines them (E811):

- a workload's component objects (what a component's folder applies: plain objects, HelmReleases, a kustomize
  folder's Kustomization and, under Argo CD, the component's Application): `app.kubernetes.io/managed-by: easel`,
  `easel.dev/project`, `easel.dev/workload`, `easel.dev/environment`, `easel.dev/profile`,
  `easel.dev/profile-version`, `easel.dev/component`;
- what groups a workload on the cluster (the Namespace, ResourceQuota, LimitRange and NetworkPolicy of its
  namespace; its Flux layers; under Argo CD, the Application that syncs its Applications): the same less
  `easel.dev/profile-version` and `easel.dev/component`, which must be absent, so that a version bump does not
  touch them. A namespace several releases share (a project's, under
  `namespace.strategy: project`) carries what is true of all of them;
- an infrastructure stack's objects, Applications, layers and namespace: `easel.dev/profile`,
  `easel.dev/profile-version` and `app.kubernetes.io/managed-by`, and no other of easel's labels.

What each label must say comes from the plan's release (its project, name, profile and version), not from the
labels the renderer was handed; other labels (a `labels` trait's, Pod Security admission's) are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from compiler.diagnostics import Diagnostic, Subject, error
from compiler.plan import ClusterPlan, Release
from compiler.prove.objects import ComponentObjects, Parsed
from compiler.render.argocd import application_file, application_name, workload_application_name

MANAGED_BY = "app.kubernetes.io/managed-by"
PROJECT = "easel.dev/project"
WORKLOAD = "easel.dev/workload"
ENVIRONMENT = "easel.dev/environment"
PROFILE = "easel.dev/profile"
VERSION = "easel.dev/profile-version"
COMPONENT = "easel.dev/component"
NAMESPACED = frozenset({"Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy"})


class Where(Protocol):
    """Makes a proof's error about one object of a component (tree.py's)."""
    def problem(self, file: str, obj: dict[str, Any], field: str, message: str, code: str) -> Diagnostic: ...


@dataclass(frozen=True)
class Expected:
    """The labels an object must carry, with their values, and those of easel's it must not carry."""
    present: Mapping[str, str]
    absent: frozenset[str] = frozenset()

    def shared_with(self, other: Expected) -> Expected:
        """What an object of both must carry: the labels both agree on; and lack: what neither may carry."""
        return Expected({k: v for k, v in self.present.items() if other.present.get(k) == v},
                        self.absent & other.absent)

    def wrong(self, labels: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(label, what was expected of it) for each label that is not as it must be, in label order."""
        if all(labels.get(key) == value for key, value in self.present.items()) and self.absent.isdisjoint(labels):
            return []  # what nearly every object of a fleet is: said at once
        found = [(key, repr(value)) for key, value in self.present.items() if labels.get(key) != value]
        found += [(key, "no such label") for key in self.absent if key in labels]
        return sorted(found)


def _workload(release: Release) -> dict[str, str]:
    # the environment is the one fact the plan keeps only as a label
    return {MANAGED_BY: "easel", PROJECT: release.group, WORKLOAD: release.name,
            ENVIRONMENT: release.labels.get(ENVIRONMENT, ""), PROFILE: release.profile, VERSION: release.version}


def _infrastructure(release: Release) -> Expected:
    return Expected({MANAGED_BY: "easel", PROFILE: release.profile, VERSION: release.version},
                    frozenset({PROJECT, WORKLOAD, ENVIRONMENT, COMPONENT}))


def of_component(release: Release, component: str) -> Expected:
    if release.kind == "stack":
        return _infrastructure(release)
    return Expected({**_workload(release), COMPONENT: component})


def of_grouping(release: Release) -> Expected:
    if release.kind == "stack":
        return _infrastructure(release)
    return Expected({k: v for k, v in _workload(release).items() if k != VERSION}, frozenset({VERSION, COMPONENT}))


def of_namespace(release: Release) -> Expected:
    """A workload's namespace; one named after the project (`strategy: project`) is shared by the project's
    workloads, so it names none of them, nor their profiles."""
    if release.kind == "workload" and release.namespace.name == release.group:
        return Expected({MANAGED_BY: "easel", PROJECT: release.group, ENVIRONMENT: _workload(release)[ENVIRONMENT]},
                        frozenset({WORKLOAD, PROFILE, VERSION, COMPONENT}))
    return of_grouping(release)


def _wrong(obj: dict[str, Any], expected: Expected) -> tuple[str, str] | None:
    """The field and the message of the object's first wrong label, counting the others; None: all are right."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    wrong = expected.wrong(labels)
    if not wrong:
        return None
    key, wanted = wrong[0]
    found = repr(labels[key]) if key in labels else "no such label"
    more = f" ({len(wrong) - 1} more labels missing or wrong)" if len(wrong) > 1 else ""
    return f"metadata.labels[{key!r}]", f"expected {wanted}, found {found}{more}"


def component_problems(where: Where, built: ComponentObjects, release: Release, component: str) -> list[Diagnostic]:
    """The objects a component's folder applies, each with its component's labels (a stack's: its own)."""
    expected = of_component(release, component)
    return [where.problem(file, obj, *wrong, "E811") for file, obj in built.objects
            if (wrong := _wrong(obj, expected)) is not None]


def release_problems(plan: ClusterPlan, files: dict[str, str], layers: Mapping[str, dict[str, Any]],
                     parsed: Parsed) -> list[Diagnostic]:
    """What groups each release on the cluster (its namespace's objects, its Flux layers, a workload's Argo CD
    Application) and its components' Argo CD Applications, each with the labels of its kind. layers: the
    cluster's Flux layers by the folder they apply."""
    cluster = plan.cluster
    problems = _namespace_problems(plan, files, parsed)
    for release in plan.releases:
        grouping = of_grouping(release)
        name = workload_application_name(cluster, release)
        app = f"clusters/{cluster}/apps/{name}.yaml"
        if release.kind == "workload" and app in files:
            problems += _check(cluster, release, None, app, [_application(files[app], name, parsed)], grouping)
        for component in release.components:
            layer = layers.get(f"clusters/{cluster}/{release.path}/{component.name}")
            if layer is not None:
                name = str((layer.get("metadata") or {}).get("name"))
                problems += _check(cluster, release, component.loc, f"clusters/{cluster}/flux/layers/{name}.yaml",
                                   [layer], grouping)
            name = application_name(cluster, release, component)
            app = f"clusters/{cluster}/{application_file(cluster, release, component)}"
            if app in files:
                problems += _check(cluster, release, component.loc, app, [_application(files[app], name, parsed)],
                                   of_component(release, component.name))
    return problems


_SPEC = "\nspec:"  # where an Application's metadata ends, as easel writes it (block style, metadata first)
_NAME = re.compile(r"^  name: .*$", re.MULTILINE)


def _application(text: str, name: str, parsed: Parsed) -> dict[str, Any]:
    """An Application's kind and metadata, its name taken as given. Its text names its cluster (its name, project,
    destination, path): read whole, each cluster's would be parsed anew. Its metadata before `spec`, less its
    name, is the same on every cluster that runs the release alike: parsed once. A text in another shape is read
    whole."""
    head = text[:text.find(_SPEC)] if _SPEC in text else text
    documents = parsed.documents(_NAME.sub("  name: _", head, count=1))
    if len(documents) != 1 or not isinstance(documents[0].get("metadata"), dict):
        documents = parsed.documents(text)
    obj = dict(documents[0]) if documents else {}
    return {**obj, "metadata": {**(obj.get("metadata") or {}), "name": name}}


def _namespace_problems(plan: ClusterPlan, files: dict[str, str], parsed: Parsed) -> list[Diagnostic]:
    """Each namespace file's objects, with what is true of every release in that namespace."""
    claimed: dict[str, tuple[Release, Expected]] = {}
    for release in plan.releases:
        path = f"clusters/{plan.cluster}/namespaces/{release.namespace.name}.yaml"
        if path in files:
            mine = of_namespace(release)
            first, expected = claimed.get(path, (release, mine))
            claimed[path] = (first, mine if first is release else expected.shared_with(mine))
    problems = []
    for path, (release, expected) in claimed.items():
        objects = [obj for obj in parsed.documents(files[path]) if obj.get("kind") in NAMESPACED]
        problems += _check(plan.cluster, release, None, path, objects, expected)
    return problems


def _check(cluster: str, release: Release, loc: Any, file: str, objects: list[dict[str, Any]],
           expected: Expected) -> list[Diagnostic]:
    problems = []
    for obj in objects:
        wrong = _wrong(obj, expected)
        if wrong is not None:
            field, message = wrong
            name = (obj.get("metadata") or {}).get("name")
            problems.append(error("E811", f"cluster {cluster!r}: {obj.get('kind')} {name!r} ({file}), {field}: "
                                  f"{message}", loc, subject=Subject(release.kind, (release.id,), cluster)))
    return problems
