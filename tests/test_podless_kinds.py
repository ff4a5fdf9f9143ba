"""Custom kinds that run no pods (a ServiceMonitor, a PrometheusRule, a Certificate) pass under an environment's
default or required pod-level trait, as a ConfigMap does: easel knows them (kube/podless.py), sees their CRD
among the component's objects, or the component says where all its pods are (`podTemplates`, `[]` too). Of any
other custom kind easel cannot tell whether it runs pods: the trait fails (E409) with a hint that says how to
tell it, in a manifests component as in a ComponentDefinition."""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml
from builders import docs, gpu_cluster, repository_files
from conftest import copy_init_repo
from scenario import TEAM_IN_DEV, codes, compile_files, one_component_app, replaced

SECURITY = "{type: security-context, properties: {runAsNonRoot: true, allowPrivilegeEscalation: false}}"
DEFAULT_SECURITY = f"spec:\n  projects: [\"*\"]\n  defaults: {{traits: [{SECURITY}]}}"
REQUIRED_SECURITY = "spec:\n  projects: [\"*\"]\n  policy: {requiredTraits: [security-context]}"

SERVICE_MONITOR = """
- apiVersion: monitoring.coreos.com/v1
  kind: ServiceMonitor
  metadata: {name: web}
  spec: {selector: {matchLabels: {app: web}}, endpoints: [{port: http}]}
"""
PROMETHEUS_RULE = """
- apiVersion: monitoring.coreos.com/v1
  kind: PrometheusRule
  metadata: {name: web}
  spec: {groups: [{name: web, rules: [{alert: WebDown, expr: up == 0}]}]}
"""
WIDGET = """
- apiVersion: example.com/v1
  kind: Widget
  metadata: {name: one}
  spec: {size: 3}
"""


def _crd(group: str, kind: str, spec_schema: dict) -> str:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"{kind.lower()}s.{group}"},
           "spec": {"group": group, "scope": "Namespaced",
                    "names": {"kind": kind, "plural": f"{kind.lower()}s", "singular": kind.lower()},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                        "type": "object", "properties": {"spec": spec_schema}}}}]}}
    return yaml.safe_dump([crd], sort_keys=False)


PODLESS_SPEC = {"type": "object", "properties": {"size": {"type": "integer"}}}
POD_SPEC = {"type": "object", "properties": {"size": {"type": "integer"}, "template": {
    "type": "object", "properties": {"spec": {"type": "object", "properties": {
        "containers": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}}}}


def _manifests(objects: str, environment: str = DEFAULT_SECURITY, extra: str = "", traits: str = "",
               crds: str = "[monitoring.coreos.com, example.com]") -> dict[str, str]:
    """A manifests component `mon` of the objects, in an environment with a default (or required) trait."""
    body = textwrap.indent(objects.strip(), " " * 10)
    component = f"""    - name: mon
      type: manifests
      properties:{textwrap.indent(extra, " " * 8)}
        objects:
{body}""" + (f"\n      traits:{traits}" if traits else "")
    files = {**TEAM_IN_DEV, **gpu_cluster(crds=crds), **one_component_app(component)}
    return replaced(files, "environments/env.yaml", 'spec: {projects: ["*"]}', environment)


def _objects(result) -> list[dict]:
    return list(yaml.safe_load_all(result.files["clusters/c/workloads/team/w/mon/objects.yaml"]))


def _ok(result) -> None:
    assert codes(result) == [], [d.text for d in result.diagnostics]


def test_a_service_monitor_passes_an_environments_default_pod_level_trait():
    result = compile_files(_manifests(SERVICE_MONITOR))
    _ok(result)
    [monitor] = _objects(result)
    assert monitor["kind"] == "ServiceMonitor" and "template" not in monitor["spec"]


def test_a_service_monitor_passes_a_required_trait_its_profile_writes():
    result = compile_files(_manifests(SERVICE_MONITOR, REQUIRED_SECURITY, traits=f"\n        - {SECURITY}"))
    _ok(result)


def test_a_prometheus_rule_passes_too():
    _ok(compile_files(_manifests(PROMETHEUS_RULE)))


def test_a_pod_level_trait_the_profile_writes_on_a_service_monitor_alone_still_fails():
    """Only the environment's traits pass over it: a profile that asks a security context of pods it does not
    have is told so."""
    result = compile_files(_manifests(SERVICE_MONITOR, 'spec: {projects: ["*"]}', traits=f"\n        - {SECURITY}"))
    assert codes(result) == ["E409"]


def test_a_custom_kind_whose_crd_the_component_holds_and_has_no_pod_template_passes():
    result = compile_files(_manifests(_crd("example.com", "Widget", PODLESS_SPEC) + WIDGET))
    _ok(result)
    assert [o["kind"] for o in _objects(result)] == ["CustomResourceDefinition", "Widget"]


def test_a_custom_kind_whose_crd_has_a_pod_template_is_not_taken_for_podless():
    result = compile_files(_manifests(_crd("example.com", "Widget", POD_SPEC) + WIDGET))
    assert codes(result) == ["E409"]


def test_an_unknown_custom_kind_fails_with_a_hint_that_following_makes_pass():
    result = compile_files(_manifests(WIDGET))
    assert codes(result) == ["E409"]
    [problem] = [d for d in result.diagnostics if d.code == "E409"]
    assert "the component renders Widget" in problem.message
    assert "easel cannot tell whether Widget runs pods: if not, write `podTemplates: []` in the component's " \
           "properties" in problem.hint
    assert "`podTemplates: [{kind: Widget, path: spec.<...>.template" in problem.hint
    _ok(compile_files(_manifests(WIDGET, extra="\npodTemplates: []")))


def test_a_manifests_component_can_say_where_a_custom_kind_keeps_its_pods():
    rollout = """
- apiVersion: example.com/v1
  kind: Runner
  metadata: {name: one}
  spec:
    replicas: 2
    template:
      spec: {containers: [{name: run, image: registry.example.com/run:1}]}
"""
    declared = "\npodTemplates: [{kind: Runner, path: spec.template, replicas: replicas}]"
    result = compile_files(_manifests(rollout + WIDGET, extra=declared))
    _ok(result)
    runner, widget = _objects(result)
    assert runner["spec"]["template"]["spec"]["securityContext"] == {"runAsNonRoot": True}
    assert widget["spec"] == {"size": 3}  # left out of podTemplates: runs no pods


def test_a_manifests_components_pod_templates_name_custom_kinds_and_fields():
    result = compile_files(_manifests(WIDGET, extra="\npodTemplates: [{kind: Deployment, path: spec.template}]"))
    assert codes(result) == ["E407"]
    assert "Deployment is a built-in kind" in next(d.message for d in result.diagnostics if d.is_error)
    result = compile_files(_manifests(WIDGET, extra="\npodTemplates: [{kind: Widget, path: 'spec[*]'}]"))
    assert codes(result) == ["E407"]


def _definition(pod_templates: str) -> dict[str, str]:
    files = {**TEAM_IN_DEV, **gpu_cluster(crds="[example.com]"),
             "profiles/defs.yaml": docs(f"""
kind: ComponentDefinition
metadata: {{name: widgets}}
spec:{pod_templates}
  template: |
{textwrap.indent(WIDGET.strip(), "    ")}
"""), **one_component_app("    - {name: mon, type: widgets}")}
    return replaced(files, "environments/env.yaml", 'spec: {projects: ["*"]}', DEFAULT_SECURITY)


def test_a_component_definition_with_empty_pod_templates_runs_no_pods():
    _ok(compile_files(_definition("\n  podTemplates: []")))
    result = compile_files(_definition(""))  # not declared: easel cannot tell
    assert codes(result) == ["E409"]
    assert "write `podTemplates: []` in the ComponentDefinition" in next(
        d.hint for d in result.diagnostics if d.code == "E409")


def test_the_repository_easel_init_writes_compiles_with_a_service_monitor(tmp_path: Path):
    root = copy_init_repo(tmp_path)
    (root / "profiles/hello/monitor.yaml").write_text(yaml.safe_dump(yaml.safe_load(SERVICE_MONITOR)[0]))
    profile = root / "profiles/hello/1.0.0.yaml"
    profile.write_text(profile.read_text() + textwrap.indent(textwrap.dedent("""\
        - name: monitor
          type: manifests
          properties: {files: [profiles/hello/monitor.yaml]}
        """), "    "))
    cluster = root / "clusters/local.yaml"
    cluster.write_text(cluster.read_text().replace("  source: byoc\n", "  source: byoc\n  crds: [monitoring.coreos.com]\n"))
    result = compile_files(repository_files(root))
    _ok(result)
    monitor = "clusters/local/workloads/demo/hello/monitor/objects.yaml"
    assert yaml.safe_load(result.files[monitor])["kind"] == "ServiceMonitor"
