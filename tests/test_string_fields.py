"""Placeholders in string fields stay strings: where a Kubernetes kind's OpenAPI type takes only strings (ConfigMap
data, labels, annotations, env values, args), a number or boolean a placeholder gives is written as its string;
integer fields keep their integers; custom kinds are left as they are."""

from __future__ import annotations

import yaml
from builders import cluster_file, docs
from hypothesis import given, settings
from hypothesis import strategies as st
from k8s_schemas import validate_builtin
from scenario import TEAM_IN_DEV, codes, compile_files

from compiler.kube.strings import with_string_fields
from compiler.load import yamlio

PARAMETERS = "{nodes: {type: integer}, debug: {type: boolean}, ratio: {type: number}, port: {type: integer}}"
WORKLOAD = {
    **TEAM_IN_DEV,
    **cluster_file("c", k8s="1.30.0", spec="crds: [example.com]"),  # example.com: the group of a custom kind
    "workloads/w.yaml": docs("""
kind: Workload
metadata: {name: w}
spec:
  project: team
  environment: dev
  profile: {name: p}
  parameters: {nodes: 2, debug: true, ratio: 1.5, port: 8080}
"""),
}

CONFIG_MAP = """
            - apiVersion: v1
              kind: ConfigMap
              metadata:
                name: settings
                labels: {nodes: "{{ params.nodes }}"}
                annotations: {example.com/debug: "{{ params.debug }}"}
              data: {nnodes: "{{ params.nodes }}", debug: "{{ params.debug }}", ratio: "{{ params.ratio }}"}
"""

DEPLOYMENT = """
            - apiVersion: apps/v1
              kind: Deployment
              metadata: {name: trainer}
              spec:
                replicas: "{{ params.nodes }}"
                selector: {matchLabels: {app: trainer}}
                template:
                  metadata: {labels: {app: trainer, nodes: "{{ params.nodes }}"}}
                  spec:
                    containers:
                      - name: trainer
                        image: trainer:1
                        args: [--nodes, "{{ params.nodes }}", "{{ params.debug }}"]
                        command: [torchrun, "{{ params.ratio }}"]
                        env: [{name: NNODES, value: "{{ params.nodes }}"}, {name: UNSET, value: null}]
                        ports: [{containerPort: "{{ params.port }}"}]
"""

WIDGET = """
            - apiVersion: example.com/v1
              kind: Widget
              metadata: {name: widget, labels: {nodes: "{{ params.nodes }}"}}
              spec: {data: {nnodes: "{{ params.nodes }}"}, env: [{name: N, value: "{{ params.debug }}"}]}
"""


def profile(objects: str, traits: str = "") -> dict[str, str]:
    """A profile of one `manifests` component of these objects (and traits: YAML lines under `traits:`)."""
    return {"profiles/p.yaml": docs(f"""
kind: WorkloadProfile
metadata: {{name: p}}
spec:
  version: 1.0.0
  parameters: {PARAMETERS}
  components:
    - name: app
      type: manifests
      properties:
        objects:
{objects}
""" + (f"      traits:\n{traits}" if traits else ""))}


def written(files: dict[str, str], component: str = "app") -> dict[str, dict]:
    """The objects the compile wrote for the component on cluster c, by kind."""
    result = compile_files(files)
    assert codes(result) == [], result.diagnostics.items
    text = result.files[f"clusters/c/workloads/team/w/{component}/objects.yaml"]
    return {obj["kind"]: obj for obj in yaml.safe_load_all(text)}


def test_config_map_data_labels_and_annotations_from_placeholders_are_strings():
    config_map = written({**WORKLOAD, **profile(CONFIG_MAP)})["ConfigMap"]
    assert config_map["data"] == {"nnodes": "2", "debug": "true", "ratio": "1.5"}
    assert config_map["metadata"]["labels"]["nodes"] == "2"
    assert config_map["metadata"]["annotations"]["example.com/debug"] == "true"
    assert validate_builtin(config_map) == []


def test_env_values_args_and_pod_labels_are_strings_while_integer_fields_keep_their_integers():
    deployment = written({**WORKLOAD, **profile(DEPLOYMENT)})["Deployment"]
    template = deployment["spec"]["template"]
    container = template["spec"]["containers"][0]
    assert container["env"] == [{"name": "NNODES", "value": "2"}, {"name": "UNSET", "value": None}]
    assert container["args"] == ["--nodes", "2", "true"]
    assert container["command"] == ["torchrun", "1.5"]
    assert template["metadata"]["labels"]["nodes"] == "2"
    assert deployment["spec"]["replicas"] == 2
    assert container["ports"][0]["containerPort"] == 8080
    assert validate_builtin(deployment) == []


def test_a_custom_kind_is_left_as_it_is():
    widget = written({**WORKLOAD, **profile(WIDGET)})["Widget"]
    assert widget["metadata"]["labels"]["nodes"] == 2
    assert widget["spec"] == {"data": {"nnodes": 2}, "env": [{"name": "N", "value": True}]}


def test_objects_of_user_definitions_have_strings_in_string_fields_also_when_rendered_per_cluster():
    """A template's YAML reads `{{ params.nodes }}` unquoted as a number: the same rule applies, to a
    component's objects (rendered once, or per cluster by the plan stage) and a trait's."""
    definitions = docs("""
kind: ComponentDefinition
metadata: {name: settings}
spec:
  parameters: {type: object, properties: {nodes: {type: integer}}, required: [nodes]}
  template: |
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: {{ component.instance }}}
    data: {nnodes: {{ params.nodes }}, major: {{ cluster.kubernetesVersion.split('.')[0] }}}
""", """
kind: TraitDefinition
metadata: {name: marker}
spec:
  parameters: {type: object, properties: {nodes: {type: integer}}}
  template: |
    objects:
      - apiVersion: v1
        kind: Secret
        metadata: {name: marker, annotations: {nodes: {{ params.nodes }}}}
        stringData: {nodes: {{ params.nodes }}, enabled: true}
""")
    files = {**WORKLOAD, "profiles/defs.yaml": definitions, "profiles/p.yaml": docs(f"""
kind: WorkloadProfile
metadata: {{name: p}}
spec:
  version: 1.0.0
  parameters: {PARAMETERS}
  components:
    - name: settings
      type: settings
      properties: {{nodes: "{{{{ params.nodes }}}}"}}
      traits: [{{type: marker, properties: {{nodes: "{{{{ params.nodes }}}}"}}}}]
""")}
    objects = written(files, "settings")
    assert objects["ConfigMap"]["data"] == {"nnodes": "2", "major": "1"}
    assert objects["Secret"]["stringData"] == {"nodes": "2", "enabled": "true"}
    assert objects["Secret"]["metadata"]["annotations"]["nodes"] == "2"
    assert [validate_builtin(o) for o in objects.values()] == [[], []]


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                         st.text(max_size=20))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True), JSON_SCALARS, max_size=8))
def test_every_value_of_a_config_map_comes_out_a_string_that_the_yaml_writer_keeps(data):
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data}
    out = with_string_fields(config_map)["data"]
    assert config_map["data"] == data  # the object given is not changed
    for key, value in data.items():
        text = out[key]
        if value is None:
            assert text is None
            continue
        assert isinstance(text, str)
        if isinstance(value, bool):
            assert text == ("true" if value else "false")
        elif isinstance(value, int):
            assert int(text) == value
        elif isinstance(value, float):
            assert float(text) == value
        else:
            assert text == value
    assert yamlio.load_all(yamlio.dump({"data": out})) == [{"data": out}]


def test_a_traits_patch_that_puts_a_number_in_a_string_field_is_written_as_a_string():
    """A patch is merged into the object before it is written: the rule holds for what the patch brought, on
    easel's own objects and in the kustomize patches that charts get."""
    trait = docs("""
kind: TraitDefinition
metadata: {name: nodes-env}
spec:
  parameters: {type: object, properties: {nodes: {type: integer}}, required: [nodes]}
  template: |
    patches:
      - patch:
          metadata: {annotations: {example.com/nodes: {{ parameters.nodes }}}}
          spec:
            template:
              spec:
                containers:
                  - name: "*"
                    env: [{name: NNODES, value: {{ parameters.nodes }}}]
""")
    files = {**WORKLOAD, "profiles/traits.yaml": trait, **profile(DEPLOYMENT, """
        - type: nodes-env
          properties: {nodes: "{{ params.nodes }}"}
""")}
    deployment = written(files)["Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "NNODES", "value": "2"} in container["env"]
    assert deployment["metadata"]["annotations"]["example.com/nodes"] == "2"
    assert validate_builtin(deployment) == []
