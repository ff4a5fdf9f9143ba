"""User-defined ComponentDefinition and TraitDefinition, and built-in traits on each kind of component."""

from __future__ import annotations

import yaml
from builders import cluster_file, docs
from scenario import TEAM_IN_DEV, codes, compile_files, replaced

BASE = {
    **TEAM_IN_DEV,
    **cluster_file("c", k8s="1.30.0"),
    "workloads/w.yaml": docs("""
kind: Workload
metadata: {name: w}
spec: {project: team, environment: dev, profile: {name: p}, parameters: {size: 3}}
"""),
}

PRIORITY = docs("""
kind: TraitDefinition
metadata: {name: priority}
spec:
  parameters: {type: object, properties: {class: {type: string}}, required: [class]}
  template: |
    patches:
      - patch:
          spec:
            template:
              spec:
                priorityClassName: {{ parameters.class }}
""")

CACHE = docs("""
kind: ComponentDefinition
metadata: {name: cache}
spec:
  parameters:
    type: object
    properties: {size: {type: integer, minimum: 1}}
    required: [size]
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
            containers: [{name: redis, image: redis:7}]
""")


def profile(components: str) -> dict[str, str]:
    return {"profiles/p.yaml": docs(f"""
kind: WorkloadProfile
metadata: {{name: p}}
spec:
  version: 1.0.0
  parameters: {{size: {{type: integer}}}}
  components:
{components}
""")}


def objects(result, suffix: str) -> list[dict]:
    path = next(p for p in result.files if p.endswith(suffix))
    return list(yaml.safe_load_all(result.files[path]))


def test_user_component_and_trait_render_into_the_cluster_tree():
    files = {**BASE, "profiles/defs.yaml": PRIORITY + "---\n" + CACHE, **profile("""
    - name: cache
      type: cache
      properties: {size: "{{ params.size }}"}
      traits: [{type: priority, properties: {class: high}}]
""")}
    result = compile_files(files)
    assert codes(result) == [], result.diagnostics.items
    [deployment] = objects(result, "workloads/team/w/cache/objects.yaml")
    assert deployment["metadata"]["name"] == "w-cache"
    assert deployment["metadata"]["namespace"] == "team-w"
    assert deployment["metadata"]["labels"]["easel.dev/component"] == "cache"
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["template"]["spec"]["priorityClassName"] == "high"


def test_user_trait_on_a_chart_becomes_a_post_renderer_patch():
    files = {**BASE, "profiles/defs.yaml": PRIORITY, **profile("""
    - name: app
      type: helm-chart
      properties: {repository: charts, chart: app, version: 1.2.3}
      traits: [{type: priority, properties: {class: high}}]
""")}
    result = compile_files(files)
    assert codes(result) == []
    [release] = objects(result, "workloads/team/w/app/objects.yaml")
    patches = release["spec"]["postRenderers"][0]["kustomize"]["patches"]
    # a pod-level setting reaches every pod-bearing kind a chart renders
    assert [p["target"] for p in patches] == [{"kind": kind} for kind in ("Deployment", "StatefulSet", "DaemonSet",
                                                                          "Job", "CronJob", "Pod")]
    assert yaml.safe_load(patches[0]["patch"])["spec"]["template"]["spec"]["priorityClassName"] == "high"
    assert yaml.safe_load(patches[4]["patch"])["spec"]["jobTemplate"]["spec"]["template"]["spec"][
        "priorityClassName"] == "high"


def test_builtin_traits_on_a_chart_name_the_container_and_target():
    files = {**BASE, **profile("""
    - name: app
      type: helm-chart
      properties:
        repository: charts
        chart: app
        version: 1.2.3
        container: server
        target: {kind: StatefulSet, name: ".*-db"}
      traits:
        - {type: resources, properties: {memory: 1Gi}}
        - {type: gpu, properties: {count: 1, product: NVIDIA-L4}}
""")}
    files.update(cluster_file("c", k8s="1.30.0",
                              devices=["{name: n1, facts: {gpus: [{product: NVIDIA-L4, count: 1}]}}"]))
    result = compile_files(files)
    assert codes(result) == [], result.diagnostics.items
    [release] = objects(result, "workloads/team/w/app/objects.yaml")
    [patch] = release["spec"]["postRenderers"][0]["kustomize"]["patches"]
    assert patch["target"] == {"kind": "StatefulSet", "name": ".*-db"}
    body = yaml.safe_load(patch["patch"])
    pod = body["spec"]["template"]["spec"]
    assert pod["containers"] == [{"name": "server", "resources": {"limits": {"memory": "1Gi", "nvidia.com/gpu": 1},
                                                                 "requests": {"memory": "1Gi"}}}]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-L4"}


def test_template_output_that_is_not_objects_is_an_error():
    bad = docs("""
kind: ComponentDefinition
metadata: {name: cache}
spec:
  template: |
    - just: a mapping, not an object
""")
    files = {**BASE, "profiles/defs.yaml": bad, **profile("""
    - name: cache
      type: cache
""")}
    result = compile_files(files)
    assert codes(result) == ["E408"]
    problem = next(d for d in result.diagnostics if d.code == "E408")
    assert problem.location.file == "profiles/defs.yaml"


def test_properties_are_checked_against_the_definition_schema():
    files = {**BASE, "profiles/defs.yaml": CACHE, **profile("""
    - name: cache
      type: cache
      properties: {size: 0}
""")}
    result = compile_files(files)
    assert codes(result) == ["E407"]
    problem = next(d for d in result.diagnostics if d.code == "E407")
    assert problem.location.file == "profiles/p.yaml"
    assert problem.location.path[-2:] == ("properties", "size")


def test_a_template_that_reads_cluster_is_rendered_per_cluster():
    node_pool = docs("""
kind: ComponentDefinition
metadata: {name: pool}
spec:
  parameters:                       # a property map, as a WorkloadProfile writes it
    prefix: {type: string, default: pool}
  template: |
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: {{ params.prefix }}-{{ cluster.name }}}
    data:
      k8s: "{{ cluster.kubernetesVersion }}"
      gpus: "{{ cluster.gpus | length }}"
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: {{ component.instance }}-static}
""")
    files = {**BASE, "profiles/defs.yaml": node_pool, **profile("""
    - name: pool
      type: pool
""")}
    files.update(cluster_file("d", k8s="1.29.1"))
    result = compile_files(files)
    assert codes(result) == [], result.diagnostics.items
    for cluster, version in (("c", "1.30.0"), ("d", "1.29.1")):
        first, second = yaml.safe_load_all(result.files[f"clusters/{cluster}/workloads/team/w/pool/objects.yaml"])
        assert first["metadata"]["name"] == f"pool-{cluster}"
        assert first["data"] == {"k8s": version, "gpus": "0"}
        assert second["metadata"]["name"] == "w-pool-static"


def test_a_property_map_without_a_default_is_required():
    definition = docs("""
kind: ComponentDefinition
metadata: {name: thing}
spec:
  parameters:
    size: {type: integer}
  template: |
    - {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}
""")
    files = {**BASE, "profiles/defs.yaml": definition, **profile("""
    - name: thing
      type: thing
""")}
    result = compile_files(files)
    assert codes(result) == ["E407"]
    assert "missing required field 'size'" in next(d.message for d in result.diagnostics if d.code == "E407")


def test_builtin_traits_on_a_webservice():
    files = {**BASE, **profile("""
    - name: web
      type: webservice
      properties: {image: "nginx:1.27", port: 8080, replicas: 1}
      traits:
        - {type: image-registry, properties: {registry: mirror.internal.example.com}}
        - {type: ingress, properties: {host: web.example.com, className: nginx, tls: {secretName: web-tls}}}
        - {type: storage, properties: {size: 10Gi, mountPath: /data}}
        - {type: node-placement, properties: {nodeSelector: {pool: web}, tolerations: [{key: web, operator: Exists}]}}
        - {type: labels, properties: {cost-center: search}}
        - {type: replicas, properties: {count: 3}}
""")}
    result = compile_files(files)
    assert codes(result) == [], result.diagnostics.items
    by_kind = {o["kind"]: o for o in objects(result, "workloads/team/w/web/objects.yaml")}
    assert sorted(by_kind) == ["Deployment", "Ingress", "PersistentVolumeClaim", "Service"]
    deployment = by_kind["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 3
    assert pod["containers"][0]["image"] == "mirror.internal.example.com/library/nginx:1.27"
    assert pod["containers"][0]["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    assert pod["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "w-web-data"}}]
    assert pod["nodeSelector"] == {"pool": "web"}
    assert deployment["spec"]["template"]["metadata"]["labels"]["cost-center"] == "search"
    assert all(o["metadata"]["labels"]["cost-center"] == "search" for o in by_kind.values())
    ingress = by_kind["Ingress"]["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["rules"][0]["http"]["paths"][0]["backend"]["service"] == {"name": "w-web", "port": {"name": "http"}}
    assert ingress["tls"] == [{"hosts": ["web.example.com"], "secretName": "web-tls"}]
    assert by_kind["PersistentVolumeClaim"]["spec"]["resources"] == {"requests": {"storage": "10Gi"}}


def _with_registries(files: dict[str, str], registries: str) -> dict[str, str]:
    return replaced(files, "environments/env.yaml", 'spec: {projects: ["*"]}',
                    f'spec: {{projects: ["*"], policy: {{allowedRegistries: {registries}}}}}')


def test_images_must_come_from_an_allowed_registry():
    files = _with_registries({**BASE, **profile("""
    - name: web
      type: webservice
      properties: {image: "nginx:1.27"}
""")}, "[registry.example.com]")
    result = compile_files(files)
    assert codes(result) == ["E706"]
    problem = next(d for d in result.diagnostics if d.code == "E706")
    assert "'nginx:1.27'" in problem.message and problem.location.file == "profiles/p.yaml"


def test_the_image_registry_trait_satisfies_the_policy_and_lists_images_for_mirroring():
    files = _with_registries({**BASE, **profile("""
    - name: web
      type: webservice
      properties: {image: "nginx:1.27"}
      traits: [{type: image-registry, properties: {registry: registry.example.com/mirror}}]
    - name: app
      type: helm-chart
      properties:
        repository: charts
        chart: app
        version: 1.2.3
        imageValues: [image, sidecar.image]
        values:
          image: {registry: docker.io, repository: bitnami/app, tag: "2.0"}
          sidecar: {image: "quay.io/org/sidecar:1"}
      traits: [{type: image-registry, properties: {registry: registry.example.com/mirror}}]
""")}, "[registry.example.com/mirror]")
    result = compile_files(files)
    assert codes(result) == [], result.diagnostics.items
    assert result.files["clusters/c/images.txt"] == (
        "docker.io/bitnami/app:2.0 registry.example.com/mirror/bitnami/app:2.0\n"
        "nginx:1.27 registry.example.com/mirror/library/nginx:1.27\n"
        "quay.io/org/sidecar:1 registry.example.com/mirror/org/sidecar:1\n")
    [release] = objects(result, "workloads/team/w/app/objects.yaml")
    assert release["spec"]["values"]["image"]["registry"] == "registry.example.com/mirror"
    assert release["spec"]["values"]["sidecar"]["image"] == "registry.example.com/mirror/org/sidecar:1"
