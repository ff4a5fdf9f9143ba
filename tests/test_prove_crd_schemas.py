"""Custom resources against the CRDs a cluster's tree installs (compiler/prove/custom_schemas.py): a custom
resource whose CRD the tree holds, in the same component, a sibling or an infrastructure stack, must be valid
against that CRD's schema for the version it uses, and the CRD must serve that version; else compile and validate
fail with E814 naming the cluster, the object and the field. A group the cluster only names in its `crds` is
taken on trust."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from builders import byoc_cluster, docs, gpu_cluster
from conftest import easel, tree, write_files
from scenario import TEAM_IN_DEV, codes, compile_files, one_component_app

from compiler.prove import custom_schemas
from compiler.prove.schemas import SchemaMemo

WIDGET_SCHEMA = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["size", "mode"],
            "properties": {
                "size": {"type": "integer", "minimum": 1},
                "mode": {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
                "color": {"type": "string", "nullable": True},
                "port": {"x-kubernetes-int-or-string": True, "nullable": True},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "strict": {"type": "object", "additionalProperties": False, "properties": {"a": {"type": "string"}}},
            },
        },
    },
}


def widget_crd() -> dict:
    """A CRD of Widget (example.com) that serves v1 and no longer serves v1beta1."""
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                     "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
                     "versions": [
                         {"name": "v1", "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": WIDGET_SCHEMA}},
                         {"name": "v1beta1", "served": False, "storage": False,
                          "schema": {"openAPIV3Schema": WIDGET_SCHEMA}}]}}


def widget(spec: dict, version: str = "v1", name: str = "one") -> dict:
    return {"apiVersion": f"example.com/{version}", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


VALID = {"size": 3, "color": None, "port": "http", "extra": {"anything": [1, "two"]}, "unknownField": True}


def _objects_yaml(objects: list[dict]) -> str:
    return textwrap.indent(yaml.safe_dump(objects, sort_keys=False), " " * 10)


def crd_and_widget(spec: dict, version: str = "v1", engine: str = "flux") -> dict[str, str]:
    """One manifests component `mon` that installs the Widget CRD and writes one Widget, on a cluster synced by
    the engine."""
    component = f"""    - name: mon
      type: manifests
      properties:
        objects:
{_objects_yaml([widget_crd(), widget(spec, version)])}"""
    return {**TEAM_IN_DEV, **byoc_cluster(engine=engine), **one_component_app(component)}


def _e814(result) -> list[str]:
    return [d.message for d in result.diagnostics if d.code == "E814"]


@pytest.mark.parametrize("spec", [VALID, {"size": 1, "port": 8080}, {"size": 1, "port": None, "mode": None}])
def test_a_custom_resource_valid_against_its_crd_passes(spec):
    """Unknown fields pruned, nulls (pruned, or allowed where `nullable`), int-or-string, a required field with a
    default left out: the API server takes all of these."""
    result = compile_files(crd_and_widget(spec))
    assert codes(result) == [], [d.text for d in result.diagnostics]


@pytest.mark.parametrize(("spec", "field", "cause"), [
    ({"size": "three"}, "spec.size", "'three' is not of type 'integer'"),
    ({"size": 0}, "spec.size", "0 is less than the minimum of 1"),
    ({"color": "red"}, "spec", "'size' is a required property"),
    ({"size": None}, "spec", "'size' is a required property"),  # a null is pruned: the field is missing
    ({"size": 1, "mode": "medium"}, "spec.mode", "'medium' is not one of ['fast', 'slow']"),
    ({"size": 1, "port": True}, "spec.port", "True is not of type 'integer', 'string', 'null'"),
    ({"size": 1, "strict": {"a": "x", "b": "y"}}, "spec.strict", "Additional properties are not allowed ('b'"),
])
def test_a_custom_resource_its_crd_refuses_fails_compile_and_validate_naming_cluster_object_and_field(
        spec, field, cause):
    result = compile_files(crd_and_widget(spec))  # validate must report the same (compile_files checks it)
    assert codes(result) == ["E814"], [d.text for d in result.diagnostics]
    [message] = _e814(result)
    assert message.startswith("cluster 'c': Widget 'one' (clusters/c/workloads/team/w/mon/objects.yaml)")
    assert f"the API server would reject it: {field}: {cause}" in message
    assert "(CRD widgets.example.com, version v1)" in message
    assert result.files is None


def test_on_an_argo_cd_cluster_too():
    assert codes(compile_files(crd_and_widget(VALID, engine="argocd"))) == []
    result = compile_files(crd_and_widget({"size": "three"}, engine="argocd"))
    assert codes(result) == ["E814"] and "spec.size: 'three' is not of type 'integer'" in _e814(result)[0]


@pytest.mark.parametrize("version", ["v1beta1", "v2"])
def test_a_custom_resource_in_a_version_its_crd_does_not_serve_fails(version):
    result = compile_files(crd_and_widget({"size": 1}, version=version))
    assert codes(result) == ["E814"]
    [message] = _e814(result)
    assert "Widget 'one'" in message
    assert f"its CRD widgets.example.com serves no version {version} (it serves: v1)" in message


def test_a_group_the_cluster_only_names_in_its_crds_is_taken_on_trust():
    gadget = {"apiVersion": "trusted.example.com/v1", "kind": "Gadget", "metadata": {"name": "g"},
              "spec": {"anything": "goes", "size": "three"}}
    component = f"""    - name: mon
      type: manifests
      properties:
        objects:
{_objects_yaml([gadget])}"""
    files = {**TEAM_IN_DEV, **gpu_cluster(crds="[trusted.example.com]"), **one_component_app(component)}
    assert codes(compile_files(files)) == []


def test_the_crd_of_a_sibling_component_is_seen():
    component = f"""    - name: crd
      type: manifests
      properties:
        objects:
{_objects_yaml([widget_crd()])}
    - name: mon
      type: manifests
      dependsOn: [crd]
      properties:
        objects:
{_objects_yaml([widget({"size": "three"})])}"""
    result = compile_files({**TEAM_IN_DEV, **gpu_cluster(), **one_component_app(component)})
    assert codes(result) == ["E814"]
    assert "Widget 'one' (clusters/c/workloads/team/w/mon/objects.yaml)" in _e814(result)[0]


def stack_files(spec: dict) -> dict[str, str]:
    """An infrastructure stack `widgets` that installs the Widget CRD, and a workload that requires it."""
    files = {**TEAM_IN_DEV, **gpu_cluster(), "profiles/widgets.yaml": docs(f"""
kind: WorkloadProfile
metadata: {{name: widgets}}
spec:
  version: 1.0.0
  type: Infrastructure
  components:
    - name: crd
      type: manifests
      properties:
        objects:
{_objects_yaml([widget_crd()])}
""")}
    files.update(one_component_app(f"""    - name: mon
      type: manifests
      properties:
        objects:
{_objects_yaml([widget(spec)])}"""))
    files["profiles/app.yaml"] = files["profiles/app.yaml"].replace(
        "  version: 1.0.0\n", "  version: 1.0.0\n  requires:\n    profiles: [{name: widgets}]\n", 1)
    return files


def test_the_crd_of_an_infrastructure_stack_is_seen():
    assert codes(compile_files(stack_files({"size": 2}))) == []
    result = compile_files(stack_files({"size": 2, "mode": "medium"}))
    assert codes(result) == ["E814"]
    assert "spec.mode: 'medium' is not one of" in _e814(result)[0]


def test_the_command_line_refuses_it_and_writes_nothing(tmp_path: Path):
    root = write_files(tmp_path / "repo", {"easel.yaml": docs("kind: Settings\nspec: {}\n"),
                                           **crd_and_widget({"size": "three"})})
    for command in ("validate", "compile"):
        run = easel("--no-cache", command, cwd=root)
        assert run.code == 1, run.text
        assert "error[E814]" in run.err and "cluster 'c': Widget 'one'" in run.err and "spec.size" in run.err
    assert not (root / "output").exists() or tree(root / "output") == {}


def test_each_crd_schema_is_compiled_once_and_each_object_checked_once():
    crds = {("example.com", "Widget"): (widget_crd(),)}
    memo = SchemaMemo()
    custom_schemas._compiled.cache_clear()
    objects = [widget({"size": n}) for n in range(1, 4)]
    for _ in range(2):
        assert [custom_schemas.rejection(o, crds, memo) for o in objects] == [None, None, None]
    assert custom_schemas._compiled.cache_info().misses == 1  # the CRD object's schema, compiled once
    assert len(memo.verdicts) == 3  # each object checked once
    other = {("example.com", "Widget"): (widget_crd(),)}  # another tree's copy of the same CRD: not compiled again
    assert custom_schemas.rejection(objects[0], other, SchemaMemo()) is None
    assert custom_schemas._compiled.cache_info()[:2] == (1, 1)


def test_what_easel_cannot_check_is_not_refused():
    """A pattern Python cannot read (Go's RE2 syntax), and CEL rules: left to the API server, never a false
    refusal. A CRD with no schema takes anything."""
    crd = widget_crd()
    spec_schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec_schema["properties"]["name"] = {"type": "string", "pattern": r"^\p{L}+$"}
    spec_schema["x-kubernetes-validations"] = [{"rule": "self.size < 3", "message": "small"}]
    crds = {("example.com", "Widget"): (crd,)}
    assert custom_schemas.rejection(widget({"size": 5, "name": "x1"}), crds, SchemaMemo()) is None
    del crd["spec"]["versions"][0]["schema"]
    assert custom_schemas.rejection(widget({"size": "three"}), crds, SchemaMemo()) is None


def test_a_crd_whose_schema_names_an_unknown_type_is_said_so():
    crd = widget_crd()
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["size"] = {
        "type": "int"}
    why = custom_schemas.rejection(widget({"size": 1}), {("example.com", "Widget"): (crd,)}, SchemaMemo())
    assert why == "its CRD widgets.example.com has no valid schema at v1: unknown type 'int'"
