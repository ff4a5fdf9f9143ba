"""Issue 23's findings, each injected into a tree easel rendered and proved clean: the proof of that cluster's tree
(compiler/prove/tree.py, `prove_cluster` with the GPUs placement took there and the cluster's facts, so its
Kubernetes version) must name the defect by its code, the cluster, the object and the field.

Each repository is small and valid: it compiles without a problem and its tree passes the proof as rendered; then
one edit of the rendered files of one cluster makes the tree the renderer would have written with the defect.

Not here: the objects of a `kustomize` folder component (their easel.dev labels, their images). A cluster's tree
holds only what points at the folder (a Flux Kustomization with `commonMetadata` and `patches`, or the kustomization
Argo CD builds around it, with `labels` and `patches`), and the proof does not build the folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache

import pytest
import yaml
from builders import cluster_file, docs, gpu_cluster, gpu_device
from scenario import TEAM_IN_DEV, one_component_app
from test_rollout_booking import WAVES as ROLLOUT_ENVIRONMENT
from test_rollout_booking import _profile as _versioned

from compiler.load.source import MemorySource
from compiler.pipeline import Request, Result, compile_repository
from compiler.prove import gpus_taken, workload_policies
from compiler.prove.tree import prove_cluster

WORKLOADS = "workloads/team/w"


def _environment(spec: str) -> str:
    """TEAM_IN_DEV's project and environment, the environment's spec given (as a YAML flow mapping's fields)."""
    return TEAM_IN_DEV["environments/env.yaml"].replace('spec: {projects: ["*"]}', f'spec: {{projects: ["*"], {spec}}}')


# --- the repositories ------------------------------------------------------------------------------------------

# 1. mid-rollout: 1.0.0 books 1 GPU a replica; 1.1.0, 4 a replica, reaches the canary c1 first (as
# tests/test_rollout_booking.py)
WAVES = docs("kind: Project\nmetadata: {name: team}\nspec: {}\n", ROLLOUT_ENVIRONMENT)


def _rollout() -> Result:
    files = {**TEAM_IN_DEV, "environments/env.yaml": WAVES, **gpu_cluster("c1", '{canary: "true"}'),
             **gpu_cluster("c2"), "profiles/app-1.yaml": _versioned("1.0.0", 1),
             "workloads/w.yaml": docs("kind: Workload\nmetadata: {name: w}\n"
                                      "spec: {project: team, environment: dev, profile: {name: app}}\n")}
    first = _compiled(files)
    return _compiled({**files, "easel.lock": first.lock_text, "profiles/app-2.yaml": _versioned("1.1.0", 4)},
                     Request(update="*"))


# 2, 7. a user ComponentDefinition whose Deployment runs `replicas` pods of one GPU each, in an environment that
# allows one registry (as tests/test_definitions.py's cache)
CACHE = docs("""
kind: ComponentDefinition
metadata: {name: cache}
spec:
  parameters: {type: object, properties: {size: {type: integer, minimum: 1}}, required: [size]}
  template: |
    - apiVersion: apps/v1
      kind: Deployment
      metadata: {name: {{ component.instance }}}
      spec:
        replicas: {{ parameters.size }}
        selector: {matchLabels: {app: {{ component.instance }}}}
        template:
          metadata: {labels: {app: {{ component.instance }}}}
          spec:
            containers: [{name: redis, image: registry.example.com/redis:7}]
""")


def _definition() -> Result:
    return _compiled({**TEAM_IN_DEV, "environments/env.yaml": _environment(
        "policy: {allowedRegistries: [registry.example.com]}"), **gpu_cluster("c"), "profiles/defs.yaml": CACHE,
        **one_component_app("""
    - name: cache
      type: cache
      properties: {size: 2}
      traits:
      - type: gpu
        properties: {count: 1}
""")})


# 3. a product list: placement took the L40S the cluster has, and the pods are pinned to it (as
# tests/test_product_pinning.py)
def _products() -> Result:
    return _compiled({**TEAM_IN_DEV, **cluster_file("c", devices=[gpu_device("n1", "L40S", 8)]), **one_component_app("""
    - name: api
      type: webservice
      properties: {image: registry.example.com/api:1.0, port: 8080, replicas: 2}
      traits:
      - type: gpu
        properties: {count: 1, product: [L40S, A100, H100]}
""")})


# 4. placeholders filled in string fields: a ConfigMap's data and annotations, a container's env (as
# tests/test_string_fields.py)
def _strings() -> Result:
    return _compiled({**TEAM_IN_DEV, **cluster_file("c", k8s="1.30.0"), "profiles/p.yaml": docs("""
kind: WorkloadProfile
metadata: {name: p}
spec:
  version: 1.0.0
  parameters: {nodes: {type: integer}}
  components:
    - name: app
      type: manifests
      properties:
        objects:
          - apiVersion: v1
            kind: ConfigMap
            metadata:
              name: settings
              annotations: {example.com/nodes: "{{ params.nodes }}"}
            data: {nnodes: "{{ params.nodes }}"}
          - apiVersion: apps/v1
            kind: Deployment
            metadata: {name: trainer}
            spec:
              selector: {matchLabels: {app: trainer}}
              template:
                metadata: {labels: {app: trainer}}
                spec:
                  containers:
                    - name: trainer
                      image: registry.example.com/trainer:1
                      env: [{name: NNODES, value: "{{ params.nodes }}"}]
"""), "workloads/w.yaml": docs("""
kind: Workload
metadata: {name: w}
spec: {project: team, environment: dev, profile: {name: p}, parameters: {nodes: 2}}
""")})


# 5. DRA on Kubernetes 1.34: the pods claim their GPUs from a resource.k8s.io/v1 ResourceClaimTemplate (as
# tests/test_gpu_dra.py)
def _dra() -> Result:
    gpus = "[{product: NVIDIA-A100-SXM4-80GB, memory: 80Gi, count: 4, dra: {driver: gpu.nvidia.com, " \
           "productName: NVIDIA A100-SXM4-80GB}}]"
    return _compiled({**TEAM_IN_DEV, **cluster_file("c", k8s="1.34.1", devices=[f"{{name: n, facts: {{gpus: {gpus}}}}}"]),
                      **one_component_app("""
    - name: web
      type: webservice
      properties: {image: registry.example.com/app:1}
      traits:
      - {type: gpu, properties: {count: 2}}
""")})


# 8. traits the environment requires, on a Deployment and a StatefulSet (as tests/test_storage_statefulset.py)
def _required() -> Result:
    workloads = "\n".join(f"""
          - apiVersion: apps/v1
            kind: {kind}
            metadata: {{name: {name}}}
            spec:{service}
              selector: {{matchLabels: {{app: {name}}}}}
              template:
                metadata: {{labels: {{app: {name}}}}}
                spec: {{containers: [{{name: {name}, image: registry.example.com/{name}:1}}]}}"""
                          for kind, name, service in (("Deployment", "web", ""),
                                                      ("StatefulSet", "db", "\n              serviceName: db")))
    return _compiled({**TEAM_IN_DEV, "environments/env.yaml": _environment(
        "policy: {requiredTraits: [storage, security-context]}"), **gpu_cluster("c"), **one_component_app(f"""
    - name: db
      type: manifests
      properties:
        objects:{workloads}
      traits:
        - {{type: storage, properties: {{size: 10Gi, mountPath: /data, storageClass: fast}}}}
        - {{type: security-context, properties: {{runAsNonRoot: true, runAsUser: 1000}}}}
""")})


# 9. one component booked GPUs, the other none
def _two() -> Result:
    return _compiled({**TEAM_IN_DEV, **gpu_cluster("c"), **one_component_app("""
    - name: api
      type: webservice
      properties: {image: registry.example.com/api:1.0, port: 8080}
      traits:
      - type: gpu
        properties: {count: 2}
    - name: web
      type: webservice
      properties: {image: registry.example.com/web:1.0, port: 8080}
""")})


REPOSITORIES: dict[str, Callable[[], Result]] = {
    "rollout": _rollout, "definition": _definition, "products": _products, "strings": _strings, "dra": _dra,
    "required": _required, "two": _two,
}


def _compiled(files: dict[str, str], request: Request | None = None) -> Result:
    result = compile_repository(MemorySource(files), request or Request())
    assert not result.diagnostics.has_errors, [d.message for d in result.diagnostics]
    assert result.files is not None
    return result


@pytest.fixture(scope="module")
def compiled() -> Callable[[str], Result]:
    """Each repository compiled once for the module, when a case first needs it."""
    return cache(lambda name: REPOSITORIES[name]())


# --- the injections --------------------------------------------------------------------------------------------

Edit = Callable[[dict[str, str]], dict[str, str]]


def in_object(path: str, kind: str, name: str, change: Callable[[dict], None]) -> Edit:
    """An edit of one object of a rendered file (path under the cluster's folder), by kind and name."""
    def edit(files: dict[str, str]) -> dict[str, str]:
        [key] = [p for p in files if p.endswith("/" + path)]
        objects = [d for d in yaml.safe_load_all(files[key]) if d]
        [target] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
        change(target)
        return {**files, key: yaml.safe_dump_all(objects, sort_keys=False)}
    return edit


def in_text(path: str, old: str, new: str) -> Edit:
    """An edit of one piece of text of a rendered file."""
    def edit(files: dict[str, str]) -> dict[str, str]:
        [key] = [p for p in files if p.endswith("/" + path)]
        assert old in files[key], f"{old!r} not in {key}"
        return {**files, key: files[key].replace(old, new)}
    return edit


def both(*edits: Edit) -> Edit:
    def edit(files: dict[str, str]) -> dict[str, str]:
        for one in edits:
            files = one(files)
        return files
    return edit


def _pod(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def _set(mapping: dict, keys: tuple, value) -> None:
    for key in keys[:-1]:
        mapping = mapping.setdefault(key, {})
    mapping[keys[-1]] = value


@dataclass(frozen=True)
class Injection:
    repository: str  # of REPOSITORIES
    cluster: str  # whose tree is edited and proven
    edit: Edit
    code: str
    obj: str  # Kind 'name', as the message names the object
    field: str  # how the message names the field
    says: str  # what it says was expected and found
    kubernetes: str | None = None  # the tree proven as that of a cluster of this Kubernetes version


EVERY_PRODUCT = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "nvidia.com/gpu.product", "operator": "In", "values": ["L40S", "A100", "H100"]}]}]}}}
GPU_LIMIT = "pod template resources.limits['nvidia.com/gpu']"


def _gpus(count: int) -> Callable[[dict], None]:
    return lambda obj: _set(_pod(obj)["containers"][0], ("resources", "limits", "nvidia.com/gpu"), count)


CASES = {
    # 1. the canary c1 runs 1.1.0 and placement took 4 × 2 there; its pods ask for 1.0.0's 1 × 2 (and c2, which
    # the wave has not reached, for 1.1.0's 4 × 2 where 1.0.0's 1 × 2 was taken)
    "mid-rollout: the reached cluster's pods ask for the old version's GPUs": Injection(
        "rollout", "c1", in_object(f"{WORKLOADS}/api/objects.yaml", "Deployment", "w-api", _gpus(1)),
        "E810", "Deployment 'w-api'", GPU_LIMIT, "easel booked 4 × 2 pod(s) = 8 of nvidia.com/gpu; the component's "
        "pods ask for 2"),
    "mid-rollout: a cluster not reached asks for the new version's GPUs": Injection(
        "rollout", "c2", in_object(f"{WORKLOADS}/api/objects.yaml", "Deployment", "w-api", _gpus(4)),
        "E810", "Deployment 'w-api'", GPU_LIMIT, "easel booked 1 × 2 pod(s) = 2 of nvidia.com/gpu; the component's "
        "pods ask for 8"),
    # 2. a user ComponentDefinition's Deployment: 2 replicas of one GPU booked, 3 run
    "a user definition's replicas raised": Injection(
        "definition", "c", in_object(f"{WORKLOADS}/cache/objects.yaml", "Deployment", "w-cache",
                                     lambda obj: _set(obj, ("spec", "replicas"), 3)),
        "E810", "Deployment 'w-cache'", GPU_LIMIT, "easel booked 1 × 2 pod(s) = 2 of nvidia.com/gpu; the component's "
        "pods ask for 3"),
    # 3. booked on the L40S; the affinity admits every product of the list again
    "a product list's affinity widened back": Injection(
        "products", "c", in_object(f"{WORKLOADS}/api/objects.yaml", "Deployment", "w-api", lambda obj: (
            _pod(obj).pop("nodeSelector"), _pod(obj).update(affinity=EVERY_PRODUCT))),
        "E815", "Deployment 'w-api'", "pod template nodeSelector/affinity['nvidia.com/gpu.product']",
        "easel booked L40S; the pods can also land on A100, H100"),
    # 4. a filled-in placeholder left an integer where only strings go
    "an integer in a ConfigMap's data": Injection(
        "strings", "c", in_object(f"{WORKLOADS}/app/objects.yaml", "ConfigMap", "settings",
                                  lambda obj: _set(obj, ("data", "nnodes"), 2)),
        "E814", "ConfigMap 'settings'", "reject it: data.nnodes:", "2 is not of type 'string'"),
    "an integer in an annotation": Injection(
        "strings", "c", in_object(f"{WORKLOADS}/app/objects.yaml", "ConfigMap", "settings",
                                  lambda obj: _set(obj, ("metadata", "annotations", "example.com/nodes"), 2)),
        "E814", "ConfigMap 'settings'", "reject it: metadata.annotations.example.com/nodes:",
        "2 is not of type 'string'"),
    "an integer in an env value": Injection(
        "strings", "c", in_object(f"{WORKLOADS}/app/objects.yaml", "Deployment", "trainer",
                                  lambda obj: _set(_pod(obj)["containers"][0]["env"][0], ("value",), 2)),
        "E814", "Deployment 'trainer'", "reject it: spec.template.spec.containers.0.env.0.value:",
        "2 is not of type 'string'"),
    # 5. a claim template in an API version the cluster does not serve: v1alpha3 on 1.34, or the v1 that easel
    # writes on a cluster of 1.33 (the tree a compile wrote before E606)
    "a DRA claim template in an API version 1.34 does not serve": Injection(
        "dra", "c", in_text(f"{WORKLOADS}/web/objects.yaml", "apiVersion: resource.k8s.io/v1\n",
                            "apiVersion: resource.k8s.io/v1alpha3\n"),
        "E814", "ResourceClaimTemplate 'w-web-gpu'", "the object",
        "Kubernetes 1.34 serves no ResourceClaimTemplate in resource.k8s.io/v1alpha3"),
    "a resource.k8s.io/v1 claim template on Kubernetes 1.33": Injection(
        "dra", "c", lambda files: files, "E814", "ResourceClaimTemplate 'w-web-gpu'", "the object",
        "Kubernetes 1.33 serves no ResourceClaimTemplate in resource.k8s.io/v1", kubernetes="1.33.4"),
    # 7. a user definition's image from a registry the environment does not allow (and listed in images.txt, as a
    # renderer that let it through would list it)
    "a user definition's image from a registry not allowed": Injection(
        "definition", "c", both(in_text(f"{WORKLOADS}/cache/objects.yaml", "registry.example.com/redis:7",
                                        "evil.example.org/redis:7"),
                                in_text("images.txt", "registry.example.com/redis:7", "evil.example.org/redis:7")),
        "E812", "Deployment 'w-cache'", "container 'redis' image",
        "'evil.example.org/redis:7' is not from a registry the environment allows (registry.example.com)"),
    # 8. a required trait stripped from a pod template, a StatefulSet's included
    "security-context stripped from a Deployment": Injection(
        "required", "c", in_object(f"{WORKLOADS}/db/objects.yaml", "Deployment", "web",
                                   lambda obj: _pod(obj).pop("securityContext")),
        "E813", "Deployment 'web'", "spec.template.spec.securityContext", "requires trait 'security-context'"),
    "security-context stripped from a StatefulSet": Injection(
        "required", "c", in_object(f"{WORKLOADS}/db/objects.yaml", "StatefulSet", "db",
                                   lambda obj: _pod(obj).pop("securityContext")),
        "E813", "StatefulSet 'db'", "spec.template.spec.securityContext", "requires trait 'security-context'"),
    "storage's claim template stripped from a StatefulSet": Injection(
        "required", "c", in_object(f"{WORKLOADS}/db/objects.yaml", "StatefulSet", "db",
                                   lambda obj: obj["spec"].pop("volumeClaimTemplates")),
        "E813", "StatefulSet 'db'", "spec.volumeClaimTemplates", "requires trait 'storage'"),
    # 9. GPUs asked for in a pod template that no booking names
    "GPUs asked for by a component that booked none": Injection(
        "two", "c", in_object(f"{WORKLOADS}/web/objects.yaml", "Deployment", "w-web", _gpus(1)),
        "E810", "Deployment 'w-web'", "container 'web' resources.limits['nvidia.com/gpu']",
        "asks for 1 GPU(s) that easel did not book on this cluster"),
}


def _proof(result: Result, cluster: str, edit: Edit = lambda files: files,
           kubernetes: str | None = None) -> list:
    """The proof of one cluster's rendered tree, edited, with the GPUs placement took there and its facts."""
    files = edit({p: t for p, t in result.files.items() if p.startswith(f"clusters/{cluster}/")})
    facts = result.fleet[cluster]
    if kubernetes is not None:
        facts = replace(facts, kubernetes_version=kubernetes)
    return prove_cluster(result.plans.clusters[cluster], files, workload_policies(result.model),
                         taken=gpus_taken(result.decisions, cluster), facts=facts)


@pytest.mark.parametrize("case", list(CASES))
def test_each_finding_injected_is_named_by_code_cluster_object_and_field(compiled, case):
    injection = CASES[case]
    result = compiled(injection.repository)
    assert _proof(result, injection.cluster) == [], "the tree as rendered fails its proof"
    problems = _proof(result, injection.cluster, injection.edit, injection.kubernetes)
    assert problems, "the proof missed it"
    first = problems[0]
    assert first.code == injection.code, [p.message for p in problems]
    assert f"cluster {injection.cluster!r}: {injection.obj} (" in first.message, first.message
    assert injection.field in first.message and injection.says in first.message, first.message
    assert first.subject is not None and first.subject.cluster == injection.cluster
