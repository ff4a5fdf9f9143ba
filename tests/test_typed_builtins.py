"""The built-ins' fields are typed from the model on: built once where resolve renders properties (with the
defaults of the built-in's own schema, templates filled in), and no stage after validate reads a built-in property
from a `properties`/`props` mapping."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml
from builders import docs
from scenario import TEAM_IN_DEV, codes, compile_files

from compiler.definitions.builtins import components, traits, typed
from compiler.model import gpu
from compiler.model.parts import ChartTarget, ExternalSource, NodePlacement, ValuesMapping

PACKAGE = Path(__file__).resolve().parent.parent / "compiler"
# The stages that come after validate (docs/architecture.md: the order rule), and the pipeline between them.
AFTER_VALIDATE = ("decide", "plan", "render", "prove", "pipeline", "write", "reports", "commands", "cli")
# Built-in property names whose typed fields later stages read (ExternalSource, NodePlacement, manifest files,
# a chart's HelmChart).
BUILTIN_NAMES = frozenset({"target", "container", "crds", "traitValues", "imageValues", "nodeSelector",
                           "tolerations", "files", "repository"})
MAPPINGS = frozenset({"properties", "props"})


def _is_properties(node: ast.expr) -> bool:
    """`props`, `properties`, or `<anything>.properties`: a component's or trait's property mapping."""
    return ((isinstance(node, ast.Name) and node.id in MAPPINGS)
            or (isinstance(node, ast.Attribute) and node.attr in MAPPINGS))


def _builtin_name(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and node.value in BUILTIN_NAMES else None


def builtin_reads(source: str) -> list[tuple[int, str]]:
    """(line, name) of each `props["x"]`, `props.get("x")` or `"x" in props` of a built-in property name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        name = None
        if isinstance(node, ast.Subscript) and _is_properties(node.value):
            name = _builtin_name(node.slice)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
              and _is_properties(node.func.value) and node.args):
            name = _builtin_name(node.args[0])
        elif (isinstance(node, ast.Compare) and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
              and any(_is_properties(c) for c in node.comparators)):
            name = _builtin_name(node.left)
        if name is not None:
            found.append((node.lineno, name))
    return found


def _modules_after_validate() -> list[Path]:
    paths = []
    for stage in AFTER_VALIDATE:
        folder = PACKAGE / stage
        paths += sorted(folder.rglob("*.py")) if folder.is_dir() else [PACKAGE / f"{stage}.py"]
    return paths


def test_no_stage_after_validate_reads_a_builtin_property_from_a_dict():
    modules = _modules_after_validate()
    assert len(modules) > 40 and all(m.is_file() for m in modules)
    reads = [f"{m.relative_to(PACKAGE.parent)}:{line}: {name!r}" for m in modules
             for line, name in builtin_reads(m.read_text(encoding="utf-8"))]
    assert not reads, "read the typed fields (ExternalSource, NodePlacement) instead:\n" + "\n".join(reads)


def test_the_check_sees_each_way_of_reading_a_property():
    source = """
target = component.properties.get("target")
container = props["container"]
if "crds" in props: pass
tolerations = trait.properties.get("tolerations") or []
chart = props["chart"]  # not a typed field: free to read in the built-in's own renderer
value = trait.properties.get(rest)  # a user trait's property, named by traitValues: free-form
"""
    assert builtin_reads(source) == [(2, "target"), (3, "container"), (4, "crds"), (5, "tolerations")]


# --- building the typed values -------------------------------------------------------------------------------

CHART = {"repository": "charts", "chart": "app", "version": "1.0.0"}


def test_a_chart_without_the_fields_has_none_of_them():
    assert typed.external_source("helm-chart", CHART) == ExternalSource()
    assert typed.external_source("kustomize", {"path": "deploy"}) == ExternalSource()
    assert typed.external_source("webservice", {"image": "nginx"}) is None
    assert typed.node_placement("node-placement", {}) == NodePlacement()
    assert typed.node_placement("replicas", {"count": 2}) is None


def test_a_chart_s_fields_typed():
    source = typed.external_source("helm-chart", {
        **CHART, "target": {"kind": "StatefulSet", "name": "app-.*"}, "container": "server", "crds": ["a.io"],
        "traitValues": {"replicas.count": "replicaCount", "gpu.pod.tolerations": ["a.tolerations", "b.tolerations"]},
        "imageValues": ["image"]})
    assert source == ExternalSource(
        target=ChartTarget("StatefulSet", "app-.*"), container="server", crds=("a.io",),
        trait_values=(ValuesMapping("replicas.count", ("replicaCount",), listed=False),
                      ValuesMapping("gpu.pod.tolerations", ("a.tolerations", "b.tolerations"), listed=True)),
        image_values=("image",))
    folder = typed.external_source("kustomize", {"path": "deploy", "target": {"kind": "Deployment"}})
    assert folder is not None and folder.target == ChartTarget("Deployment")


def test_defaults_come_from_the_builtin_schemas(monkeypatch):
    ask = traits.gpu_ask({"product": "A"})
    schema = traits.SCHEMAS["gpu"]["properties"]
    assert (ask.count, ask.sharing) == (schema["count"]["default"], schema["sharing"]["default"]) == (1, gpu.EXCLUSIVE)
    # the schema is where a default is written: changed there, it changes what is built
    monkeypatch.setitem(schema["count"], "default", 3)
    assert traits.gpu_ask({"product": "A"}).count == 3
    monkeypatch.setitem(traits.SCHEMAS["node-placement"]["properties"]["tolerations"], "default",
                        [{"key": "k", "operator": "Exists"}])
    assert typed.node_placement("node-placement", {}) == NodePlacement(
        tolerations=({"key": "k", "operator": "Exists"},))
    monkeypatch.setitem(components.SCHEMAS["kustomize"]["properties"]["container"], "default", "main")
    assert typed.external_source("kustomize", {"path": "deploy"}) == ExternalSource(container="main")


TEMPLATED = {
    **TEAM_IN_DEV,
    "clusters/c.yaml": docs("""
kind: Cluster
metadata: {name: c}
spec: {source: byoc, kubernetesVersion: "1.30.0"}
"""),
    "workloads/w.yaml": docs("""
kind: Workload
metadata: {name: w}
spec:
  project: team
  environment: dev
  profile: {name: p}
  parameters: {kind: StatefulSet, container: server, zone: b, group: example.io}
"""),
    "profiles/p.yaml": docs("""
kind: WorkloadProfile
metadata: {name: p}
spec:
  version: 1.0.0
  parameters:
    kind: {type: string}
    container: {type: string}
    zone: {type: string}
    group: {type: string}
  components:
    - name: app
      type: helm-chart
      properties:
        repository: charts
        chart: app
        version: 1.0.0
        target: {kind: "{{ params.kind }}"}
        container: "{{ params.container }}"
        crds: ["{{ params.group }}"]
        traitValues: {node-placement.tolerations: "{{ params.container }}.tolerations"}
      traits:
        - type: node-placement
          properties:
            nodeSelector: {zone: "{{ params.zone }}"}
            tolerations: [{key: "{{ params.zone }}", operator: Exists}]
        - type: resources
          properties: {cpu: 500m}
"""),
}


def test_templated_fields_are_typed_as_the_workload_fills_them_in():
    result = compile_files(TEMPLATED)
    assert codes(result) == [], result.diagnostics.items
    [resolved] = result.resolutions.workloads.values()
    [component] = resolved.components
    assert component.external == ExternalSource(
        target=ChartTarget("StatefulSet"), container="server", crds=("example.io",),
        trait_values=(ValuesMapping("node-placement.tolerations", ("server.tolerations",), listed=False),))
    placement = next(t.placement for t in component.traits if t.type == "node-placement")
    assert placement == NodePlacement({"zone": "b"}, ({"key": "b", "operator": "Exists"},))
    assert all(t.placement is None for t in component.traits if t.type != "node-placement")
    # and what is written follows them: the container patched on the target, the tolerations in the values
    [booking] = result.plans.clusters["c"].release("team/w").bookings
    assert booking.node_selector == {"zone": "b"}
    assert booking.tolerations == ({"key": "b", "operator": "Exists"},)
    [release] = yaml.safe_load_all(next(text for path, text in result.files.items()
                                        if path.endswith("workloads/team/w/app/objects.yaml")))
    assert release["spec"]["values"]["server"]["tolerations"] == [{"key": "b", "operator": "Exists"}]
    patches = release["spec"]["postRenderers"][0]["kustomize"]["patches"]
    [target] = [p for p in patches if p["target"] == {"kind": "StatefulSet"}]
    containers = yaml.safe_load(target["patch"])["spec"]["template"]["spec"]["containers"]
    assert containers == [{"name": "server", "resources": {"requests": {"cpu": "500m"}}}]


def test_the_plan_holds_a_chart_s_trait_patches_as_data_the_engines_write():
    result = compile_files(TEMPLATED)
    release = result.plans.clusters["c"].release("team/w")
    patches = release.patches_for("app")
    # node placement is pod-wide: every pod-bearing kind a chart renders gets its node selector (its tolerations
    # went to the values); the target (every StatefulSet) the resources too, on the component's container
    assert [(p.target, p.api_version) for p in patches] == [
        (ChartTarget("Deployment"), "apps/v1"), (ChartTarget("StatefulSet"), "apps/v1"),
        (ChartTarget("DaemonSet"), "apps/v1"), (ChartTarget("Job"), "batch/v1"), (ChartTarget("CronJob"), "batch/v1"),
        (ChartTarget("Pod"), "v1")]
    assert patches[0].body == {"spec": {"template": {"spec": {"nodeSelector": {"zone": "b"}}}}}
    assert patches[1].body["spec"]["template"]["spec"]["containers"] == [
        {"name": "server", "resources": {"requests": {"cpu": "500m"}}}]
    assert patches[4].body == {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"nodeSelector": {"zone": "b"}}}}}}}
    assert patches[5].body == {"spec": {"nodeSelector": {"zone": "b"}}}  # a Pod is its own template
    [helm_release] = yaml.safe_load_all(next(text for path, text in result.files.items()
                                             if path.endswith("workloads/team/w/app/objects.yaml")))
    written = helm_release["spec"]["postRenderers"][0]["kustomize"]["patches"]
    assert [w["target"] for w in written] == [
        {"kind": p.target.kind, **({"name": p.target.name} if p.target.name else {})} for p in patches]
    assert [yaml.safe_load(w["patch"]) for w in written] == [
        {"apiVersion": p.api_version, "kind": p.target.kind, **p.body,
         "metadata": {"name": "easel-patch", **p.body.get("metadata", {})}} for p in patches]
    assert release.patches_for("no-such-component") == ()
