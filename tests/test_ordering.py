"""Trees that apply in order on an empty cluster (tests/ordering.py walks them as Flux and Argo CD would): the
Flux layers, `dependsOn` between any two components, custom resources only after their CRDs (E412 when nothing
installs them), Argo CD waves with SkipDryRunOnMissingResource. compile_files runs the ordering check on every
scenario; here it also runs on the example, the init scaffold and a generated fleet, and is shown to catch each
way a tree can fail to apply."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import ordering
import pytest
import yaml
from builders import byoc_cluster, docs
from conftest import INIT_REPO, ROOT
from scenario import TEAM_IN_DEV, codes, compile_files

from compiler.load.source import DirectorySource
from compiler.pipeline import compile_repository

SERVICE_MONITOR = """
          - apiVersion: monitoring.coreos.com/v1
            kind: ServiceMonitor
            metadata: {name: web}
            spec:
              selector: {matchLabels: {app: web}}
              endpoints: [{port: http}]"""


def _files(engine: str = "flux", crds: str = "crds: [monitoring.coreos.com]", requires: bool = True,
           depends: str = "") -> dict[str, str]:
    requirement = "\n  requires:\n    profiles: [{name: monitoring}]" if requires else ""
    return {
        **TEAM_IN_DEV,
        **byoc_cluster(engine=engine),
        "profiles/monitoring.yaml": docs(f"""
kind: WorkloadProfile
metadata: {{name: monitoring}}
spec:
  version: 1.0.0
  type: Infrastructure
  components:
    - name: prometheus
      type: helm-chart
      properties: {{repository: charts, chart: kube-prometheus-stack, version: 65.1.0, {crds}}}
"""),
        "profiles/app.yaml": docs(f"""
kind: WorkloadProfile
metadata: {{name: app}}
spec:
  version: 1.0.0{requirement}
  components:
    - name: web
      type: webservice
      properties: {{image: registry.example.com/web:1, port: 8080, runAsUser: 1000}}
    - name: monitor
      type: manifests{depends}
      properties:
        objects:{SERVICE_MONITOR}
"""),
        "workloads/w.yaml": docs("""
kind: Workload
metadata: {name: w}
spec: {project: team, environment: dev, profile: {name: app}}
"""),
    }


def _layer(result, name: str) -> dict:
    return yaml.safe_load(result.files[f"clusters/c/flux/layers/{name}.yaml"])


@pytest.mark.parametrize("name", ["example", "init", "bench-fleet"])
def test_every_tree_applies_in_order_on_an_empty_cluster(name, tmp_path):
    if name == "bench-fleet":
        subprocess.run([sys.executable, str(ROOT / "bench" / "fleet.py"), str(tmp_path / "fleet"), "--clusters", "6",
                        "--workloads", "6", "--argocd-half"], check=True, capture_output=True)
    source = DirectorySource({"example": ROOT, "init": INIT_REPO, "bench-fleet": tmp_path / "fleet"}[name])
    result = compile_repository(source)
    assert result.files is not None, [d.text for d in result.diagnostics if d.is_error]
    assert ordering.check(result) == []


def test_a_servicemonitor_waits_for_the_stack_that_installs_its_crd():
    result = compile_files(_files())  # the ordering check passes (compile_files)
    assert codes(result) == [], [d.text for d in result.diagnostics]
    monitor = _layer(result, "easel-team-w-monitor")
    assert monitor["spec"]["dependsOn"] == [{"name": "easel-namespaces"},
                                            {"name": "easel-infrastructure-monitoring-prometheus"}]
    stack = _layer(result, "easel-infrastructure-monitoring-prometheus")
    assert stack["spec"]["wait"] is True  # Ready only once the chart (and its CRDs) is installed
    assert stack["spec"]["dependsOn"] == [{"name": "easel-namespaces"}]
    bootstrap = list(yaml.safe_load_all(result.files["bootstrap/flux/c.yaml"]))
    assert bootstrap[1]["spec"]["path"] == "./output/clusters/c/flux"


def test_a_custom_resource_whose_crd_nothing_installs_is_an_error_that_names_the_kind():
    for files in (_files(crds="crds: []"), _files(requires=False)):
        result = compile_files(files)
        assert codes(result) == ["E412"]
        problem = next(d for d in result.diagnostics if d.code == "E412")
        assert "component 'monitor' writes a ServiceMonitor (monitoring.coreos.com/v1), but nothing installs the " \
               "monitoring.coreos.com CRDs before it on cluster 'c'" in problem.text
        assert "requires.profiles" in problem.hint and "crds: [monitoring.coreos.com]" in problem.hint


def test_a_crd_installed_by_a_sibling_component_needs_a_dependson_and_then_waits_for_it():
    files = _files(requires=False)
    files["profiles/app.yaml"] = files["profiles/app.yaml"].replace("""    - name: web
      type: webservice""", """    - name: prometheus
      type: helm-chart
      properties: {repository: charts, chart: kube-prometheus-stack, version: 65.1.0, crds: [monitoring.coreos.com]}
    - name: web
      type: webservice""")
    result = compile_files(files)
    assert codes(result) == ["E412"]
    assert "`dependsOn: [prometheus]`" in next(d.hint for d in result.diagnostics if d.code == "E412")
    files["profiles/app.yaml"] = files["profiles/app.yaml"].replace(
        "      type: manifests", "      type: manifests\n      dependsOn: [prometheus]")
    result = compile_files(files)
    assert codes(result) == []
    assert {"name": "easel-team-w-prometheus"} in _layer(result, "easel-team-w-monitor")["spec"]["dependsOn"]
    assert _layer(result, "easel-team-w-prometheus")["spec"]["wait"] is True


def test_dependson_a_plain_object_component_is_honoured_whatever_the_types():
    # the finding: a chart's dependsOn on a manifests component was dropped
    result = compile_files(_files(depends="\n      dependsOn: [web]"))
    assert codes(result) == []
    assert {"name": "easel-team-w-web"} in _layer(result, "easel-team-w-monitor")["spec"]["dependsOn"]
    assert _layer(result, "easel-team-w-web")["spec"]["wait"] is True
    assert "wait" not in _layer(result, "easel-team-w-monitor")["spec"]  # nothing waits for it


def _broken(result, path: str, old: str, new: str) -> list[str]:
    files = dict(result.files)
    assert old in files[path], files[path]
    files[path] = files[path].replace(old, new)
    return ordering.check(dataclasses.replace(result, files=files))


def test_the_check_catches_a_layer_that_does_not_wait_or_does_not_depend():
    result = compile_files(_files())
    stack = "clusters/c/flux/layers/easel-infrastructure-monitoring-prometheus.yaml"
    expected = "clusters/c layer easel-team-w-monitor: ServiceMonitor web (monitoring.coreos.com/v1) is applied " \
               "before its CRD"
    assert expected in _broken(result, stack, "  wait: true\n", "")
    monitor = "clusters/c/flux/layers/easel-team-w-monitor.yaml"
    assert expected in _broken(result, monitor, "  - name: easel-infrastructure-monitoring-prometheus\n", "")
    problems = _broken(result, monitor, "name: easel-namespaces", "name: easel-nothing")
    assert "clusters/c: layer easel-team-w-monitor depends on easel-nothing, which is not one of the cluster's " \
           "layers" in problems


def test_argocd_waves_and_no_dry_run_before_the_crd():
    result = compile_files(_files(engine="argocd"))
    assert codes(result) == []
    [monitor] = yaml.safe_load_all(result.files["clusters/c/workloads/team/w/monitor/objects.yaml"])
    assert monitor["metadata"]["annotations"] == {"argocd.argoproj.io/sync-options": "SkipDryRunOnMissingResource=true"}
    path = "clusters/c/workloads/team/w/monitor/objects.yaml"
    assert any("lacks SkipDryRunOnMissingResource=true" in p for p in _broken(
        result, path, "    argocd.argoproj.io/sync-options: SkipDryRunOnMissingResource=true\n", ""))
    # the workload's Application in the cluster's app-of-apps: its tree only after the stack's
    workload = "clusters/c/apps/c-apps-team-w.yaml"
    assert any("Application c-team-w-monitor (wave 0): " in p and "is applied before its CRD" in p for p in _broken(
        result, workload, "argocd.argoproj.io/sync-wave: '0'", "argocd.argoproj.io/sync-wave: '-30'"))


def test_argocd_waves_order_a_workloads_components_in_its_own_tree():
    files = _files(engine="argocd", requires=False,
                   depends="\n      dependsOn: [prometheus]")
    files["profiles/app.yaml"] = files["profiles/app.yaml"].replace("""    - name: web
      type: webservice""", """    - name: prometheus
      type: helm-chart
      properties: {repository: charts, chart: kube-prometheus-stack, version: 65.1.0, crds: [monitoring.coreos.com]}
    - name: web
      type: webservice""")
    result = compile_files(files)
    assert codes(result) == []
    monitor = "clusters/c/apps/team/w/c-team-w-monitor.yaml"
    assert yaml.safe_load(result.files[monitor])["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "1"
    assert any("Application c-team-w-monitor (wave 0): " in p and "is applied before its CRD" in p for p in _broken(
        result, monitor, "argocd.argoproj.io/sync-wave: '1'", "argocd.argoproj.io/sync-wave: '0'"))
