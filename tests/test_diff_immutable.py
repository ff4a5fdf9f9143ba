"""`easel diff` warns (W110) of a change to a field Kubernetes does not update in place, naming cluster, object
and field, in every format; a Job, which easel applies by recreating it, is said to be replaced; changes the
cluster makes in place (replicas, a pod template's image) are not warned of. And the table behind it
(kube/immutable.py), example by example and as properties."""

from __future__ import annotations

import json
from pathlib import Path

import pygit2
import pytest
from conftest import easel, write_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_git import commit_all

from compiler.kube.immutable import STATEFULSET_UPDATABLE, ImmutableChange, immutable_changes
from compiler.reports.diff import WARNINGS_SHOWN, ClusterDiff, ObjectChange, as_markdown, as_text

# A profile of one StatefulSet with a claim template, a claim, a Service with a fixed address and a Job: each
# field a parameter, so that the second revision changes only the Workload's parameters
STORE = {"profiles/store.yaml": """
    apiVersion: easel.dev/v1alpha1
    kind: WorkloadProfile
    metadata: {name: store}
    spec:
      version: 1.0.0
      parameters:
        size: {type: string, default: 1Gi}
        storageClass: {type: string, default: standard}
        clusterIP: {type: string, default: 10.96.0.50}
        image: {type: string, default: "postgres:16.3"}
        replicas: {type: integer, default: 1}
        step: {type: string, default: one}
      components:
        - name: db
          type: manifests
          properties:
            objects:
              - apiVersion: apps/v1
                kind: StatefulSet
                metadata: {name: db}
                spec:
                  serviceName: db
                  replicas: "{{ params.replicas }}"
                  selector: {matchLabels: {app: db}}
                  template:
                    metadata: {labels: {app: db}}
                    spec:
                      containers:
                        - name: db
                          image: "{{ params.image }}"
                          resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 64Mi}}
                  volumeClaimTemplates:
                    - metadata: {name: data}
                      spec:
                        accessModes: [ReadWriteOnce]
                        resources: {requests: {storage: "{{ params.size }}"}}
              - apiVersion: v1
                kind: PersistentVolumeClaim
                metadata: {name: backups}
                spec:
                  accessModes: [ReadWriteOnce]
                  storageClassName: "{{ params.storageClass }}"
                  resources: {requests: {storage: 5Gi}}
              - apiVersion: v1
                kind: Service
                metadata: {name: db}
                spec:
                  clusterIP: "{{ params.clusterIP }}"
                  selector: {app: db}
                  ports: [{port: 5432}]
        - name: migrate
          type: manifests
          properties:
            objects:
              - apiVersion: batch/v1
                kind: Job
                metadata: {name: migrate}
                spec:
                  template:
                    spec:
                      restartPolicy: Never
                      containers:
                        - name: migrate
                          image: "busybox:1.36"
                          args: [echo, "{{ params.step }}"]
                          resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 64Mi}}
""", "workloads/demo/store.yaml": """
    apiVersion: easel.dev/v1alpha1
    kind: Workload
    metadata: {name: store}
    spec: {project: demo, environment: dev, profile: {name: store}}
"""}


def _with_parameters(repo: Path, parameters: str) -> None:
    """The Workload of the second revision: the same profile, these parameters (a YAML flow mapping)."""
    write_files(repo, {"workloads/demo/store.yaml": STORE["workloads/demo/store.yaml"].replace(
        "profile: {name: store}}", f"profile: {{name: store}}, parameters: {parameters}}}")})


@pytest.fixture
def store(repo: Path) -> tuple[Path, str]:
    """The init scaffold with the store workload, committed: the base revision."""
    write_files(repo, STORE)
    handle = pygit2.init_repository(str(repo), initial_head="main")
    assert easel("compile", cwd=repo).code == 0
    return repo, commit_all(handle, "a store")


def _w110(repo: Path, base: str) -> list[str]:
    run = easel("diff", "--base", base, "--format", "json", cwd=repo)
    assert run.code == 0, run.text
    return [d["message"] for d in json.loads(run.out)["diagnostics"] if d["code"] == "W110"]


def test_a_claim_template_a_storage_class_and_a_cluster_ip_changed_are_warned_of_in_every_format(store):
    repo, base = store
    _with_parameters(repo, "{size: 2Gi, storageClass: fast, clusterIP: 10.96.0.60}")
    messages = _w110(repo, base)
    refused = "cannot change in place, so the cluster will refuse the update"
    claim = "`spec.volumeClaimTemplates[0].spec.resources.requests.storage`"
    assert messages == [
        f"PersistentVolumeClaim demo-store/backups on cluster local: `spec.storageClassName` (`standard` → `fast`) {refused}",
        f"Service demo-store/db on cluster local: `spec.clusterIP` (`10.96.0.50` → `10.96.0.60`) {refused}",
        f"StatefulSet demo-store/db on cluster local: {claim} (`1Gi` → `2Gi`) {refused}"]
    text = easel("diff", "--base", base, cwd=repo)
    assert text.code == 0, text.text  # a warning alone leaves the exit status alone
    assert text.out.count("warning[W110]") == 3 and all(message in text.out for message in messages)
    assert "hint: the update of this field is refused" in text.out
    markdown = easel("diff", "--base", base, "--format", "markdown", cwd=repo).out
    assert "(W110)" in markdown and all(f"- {message}<br>" in markdown for message in messages)
    assert markdown.index("(W110)") < markdown.index("<details>")  # above the sections the size cap may cut
    assert easel("diff", "--base", base, "--exit-code", cwd=repo).code == 1  # as for any change


def test_changes_the_cluster_makes_in_place_are_not_warned_of(store):
    repo, base = store
    _with_parameters(repo, '{replicas: 3, image: "postgres:16.4"}')
    run = easel("diff", "--base", base, "--format", "json", cwd=repo)
    changed = {o["kind"] for c in json.loads(run.out)["clusters"] for o in c["objects"]}
    assert "StatefulSet" in changed  # it does change ...
    assert _w110(repo, base) == []  # ... in place
    assert "W110" not in easel("diff", "--base", base, cwd=repo).out


def test_a_job_whose_template_changes_is_said_to_be_replaced_not_refused(store):
    repo, base = store
    _with_parameters(repo, "{step: two}")
    [message] = _w110(repo, base)
    assert message.startswith("Job demo-store/migrate on cluster local will be replaced")
    assert "`spec.template.spec.containers[0].args[1]` (`one` → `two`)" in message and "refuse" not in message
    assert "Force=true,Replace=true" in easel("diff", "--base", base, cwd=repo).out  # the hint: how easel applies it


def test_the_text_names_every_warning_and_the_markdown_the_first_with_a_count():
    selector = ImmutableChange("spec.selector", {"app": "a"}, {"app": "b"})
    diffs = [ClusterDiff(f"c{i:02}", objects=[ObjectChange("changed", "Deployment", "ns/web", "-a\n+b\n", (selector,))])
             for i in range(WARNINGS_SHOWN + 5)]
    text = as_text(diffs, "base", "head")
    assert text.count("warning[W110]: Deployment ns/web on cluster") == WARNINGS_SHOWN + 5  # past CLUSTERS_SHOWN too
    assert "Deployment ns/web on cluster c24: `spec.selector.app` (`a` → `b`) cannot change in place" in text
    markdown = as_markdown(diffs, "base", "head")
    assert markdown.count("Deployment ns/web on cluster") == WARNINGS_SHOWN
    assert "- … and 5 more: `easel diff --base base` lists them all" in markdown


def _object(kind: str, spec: dict | None = None, api: str = "v1", **more) -> dict:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": "x"}, **({"spec": spec} if spec else {}), **more}


def _paths(before: dict, after: dict) -> list[str]:
    return [change.path for change in immutable_changes(before, after)]


@pytest.mark.parametrize(("before", "after", "paths"), [
    # a StatefulSet: everything but the updatable fields, a default written out being no change
    (_object("StatefulSet", {"serviceName": "a", "replicas": 1}, "apps/v1"),
     _object("StatefulSet", {"serviceName": "b", "replicas": 2}, "apps/v1"), ["spec.serviceName"]),
    (_object("StatefulSet", {"replicas": 1}, "apps/v1"),
     _object("StatefulSet", {"replicas": 1, "podManagementPolicy": "OrderedReady"}, "apps/v1"), []),
    (_object("StatefulSet", {"replicas": 1}, "apps/v1"),
     _object("StatefulSet", {"replicas": 1, "podManagementPolicy": "Parallel"}, "apps/v1"),
     ["spec.podManagementPolicy"]),
    # selectors, not templates, of the other pod controllers
    (_object("Deployment", {"selector": {"matchLabels": {"a": "1"}}, "template": {"x": 1}}, "apps/v1"),
     _object("Deployment", {"selector": {"matchLabels": {"a": "2"}}, "template": {"x": 2}}, "apps/v1"),
     ["spec.selector"]),
    (_object("DaemonSet", {"template": {"x": 1}}, "apps/v1"), _object("DaemonSet", {"template": {"x": 2}}, "apps/v1"),
     []),
    # a claim: storage may grow, not shrink; its attributes class may change; the rest may not
    (_object("PersistentVolumeClaim", {"resources": {"requests": {"storage": "1Gi"}}}),
     _object("PersistentVolumeClaim", {"resources": {"requests": {"storage": "1536Mi"}}}), []),
    (_object("PersistentVolumeClaim", {"resources": {"requests": {"storage": "1Gi"}}}),
     _object("PersistentVolumeClaim", {"resources": {"requests": {"storage": "512Mi"}}}),
     ["spec.resources.requests.storage"]),
    (_object("PersistentVolumeClaim", {"volumeAttributesClassName": "a", "accessModes": ["ReadWriteOnce"]}),
     _object("PersistentVolumeClaim", {"volumeAttributesClassName": "b", "accessModes": ["ReadWriteMany"]}),
     ["spec.accessModes"]),
    (_object("PersistentVolumeClaim", {"resources": {"requests": {"storage": "1Gi"}}}),
     _object("PersistentVolumeClaim", {"resources": {"requests": {"storage": "1Gi"}, "limits": {"storage": "2Gi"}}}),
     ["spec.resources.limits"]),
    # a Service's address: a new one is refused; left out, the cluster keeps it; an ExternalName has none
    (_object("Service", {"clusterIP": "10.0.0.1"}), _object("Service", {"clusterIP": "None"}), ["spec.clusterIP"]),
    (_object("Service", {}), _object("Service", {"clusterIP": "10.0.0.1"}), ["spec.clusterIP"]),
    (_object("Service", {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"]}), _object("Service", {"type": "A"}), []),
    (_object("Service", {"clusterIP": "10.0.0.1"}), _object("Service", {"type": "ExternalName"}), []),
    (_object("Service", {"clusterIPs": ["10.0.0.1", "fd00::1"]}), _object("Service", {"clusterIPs": ["10.0.0.1"]}),
     []),
    # data is immutable only where the object says so
    (_object("ConfigMap", data={"a": "1"}), _object("ConfigMap", data={"a": "2"}), []),
    (_object("ConfigMap", data={"a": "1"}, immutable=True), _object("ConfigMap", data={"a": "2"}, immutable=True),
     ["data"]),
    (_object("ConfigMap", data={"a": "1"}, immutable=True), _object("ConfigMap", data={"a": "1"}), ["immutable"]),
    (_object("Secret", stringData={"a": "1"}, immutable=True), _object("Secret", stringData={"a": "2"}), [
        "immutable", "stringData"]),
    (_object("Secret"), _object("Secret", type="Opaque"), []),
    (_object("Secret", type="Opaque"), _object("Secret", type="kubernetes.io/tls"), ["type"]),
    # a kind of the same name in another API group is another kind
    (_object("StatefulSet", {"serviceName": "a"}, "apps.kruise.io/v1beta1"),
     _object("StatefulSet", {"serviceName": "b"}, "apps.kruise.io/v1beta1"), []),
])
def test_the_fields_each_kind_refuses_to_change(before, after, paths):
    assert _paths(before, after) == paths


def test_a_change_is_named_down_to_the_values_that_differ():
    before = _object("StatefulSet", {"volumeClaimTemplates": [{"spec": {"storageClassName": "a"}}]}, "apps/v1")
    after = _object("StatefulSet", {"volumeClaimTemplates": [{"spec": {"storageClassName": "b"}}]}, "apps/v1")
    [change] = immutable_changes(before, after)
    assert change.leaves() == [("[0].spec.storageClassName", "a", "b")]


_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=8)
_SPEC_FIELDS = st.sampled_from(["selector", "serviceName", "podManagementPolicy", "volumeClaimTemplates",
                                "revisionHistoryLimit", *STATEFULSET_UPDATABLE])


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a loaded CI machine is slow, not wrong
@given(st.dictionaries(_SPEC_FIELDS, _VALUES, max_size=6), st.dictionaries(_SPEC_FIELDS, _VALUES, max_size=6))
def test_a_statefulset_update_is_refused_exactly_in_the_fields_outside_the_updatable(one, other):
    before, after = _object("StatefulSet", one, "apps/v1"), _object("StatefulSet", other, "apps/v1")
    assert _paths(before, before) == []
    refused = {path.removeprefix("spec.") for path in _paths(before, after)}
    assert not refused & set(STATEFULSET_UPDATABLE)
    defaults = {"podManagementPolicy": "OrderedReady", "revisionHistoryLimit": 10}
    assert refused == {name for name in set(one) | set(other) if name not in STATEFULSET_UPDATABLE
                       and one.get(name, defaults.get(name)) != other.get(name, defaults.get(name))}


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=1, max_value=10**6))
def test_a_claim_may_grow_but_never_shrink(old, new):
    before = _object("PersistentVolumeClaim", {"resources": {"requests": {"storage": f"{old}Mi"}}})
    after = _object("PersistentVolumeClaim", {"resources": {"requests": {"storage": f"{new}Mi"}}})
    assert _paths(before, after) == (["spec.resources.requests.storage"] if new < old else [])
