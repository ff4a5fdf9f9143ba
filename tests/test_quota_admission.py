"""Pods their namespace's quota admits: a quota on a compute resource makes admission refuse every pod whose
containers do not each set it, so the proof refuses such a tree (E821) naming the pod and the field; the
`resources` trait, on easel's own objects and on a chart's, meets it."""

from __future__ import annotations

import pytest
from builders import gpu_cluster
from scenario import TEAM_IN_DEV, codes, compile_files, one_component_app

from compiler.runtime import helm

WEB = """    - name: web
      type: webservice
      properties: {{image: nginx:1.27, port: 8080{resources}}}"""


def _repository(component: str, quota: str) -> dict:
    files = {**TEAM_IN_DEV, **one_component_app(component), **gpu_cluster("c")}
    files["environments/env.yaml"] = files["environments/env.yaml"].replace(
        'spec: {projects: ["*"]}', f'spec: {{projects: ["*"], namespace: {{quota: {quota}}}}}')
    return files


def test_a_pod_without_what_the_quota_constrains_is_refused_naming_the_container():
    result = compile_files(_repository(WEB.format(resources=""), '{limits.memory: 8Gi, pods: "10"}'))
    [problem] = [d for d in result.diagnostics if d.code == "E821"]
    assert "Deployment 'w-web'" in problem.message and "container 'web' resources.limits['memory']" in problem.message
    assert "limits.memory" in problem.message and result.files is None


def test_a_request_is_met_by_a_limit_and_a_quota_on_pods_alone_asks_nothing():
    met = compile_files(_repository(WEB.format(resources=", resources: {memory: 1Gi}"),
                                    "{requests.memory: 8Gi, limits.memory: 8Gi}"))
    assert codes(met) == []
    assert codes(compile_files(_repository(WEB.format(resources=""), '{pods: "10", requests.storage: 1Ti}'))) == []


@pytest.mark.skipif(not helm.available(), reason="helm-python-sdk (the `helm` extra) is not installed")
def test_a_charts_pods_are_held_to_the_quota_too():
    chart = {"charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n",
             "charts/app/templates/app.yaml": (
                 "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  selector: {matchLabels: "
                 "{a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers:\n"
                 "      - {name: main, image: busybox:1.36}\n      - {name: side, image: busybox:1.36, "
                 "resources: {requests: {cpu: 100m}}}\n")}
    component = """    - name: app
      type: helm-chart
      properties: {path: charts/app}"""
    result = compile_files({**_repository(component, "{requests.cpu: '4'}"), **chart})
    [problem] = [d for d in result.diagnostics if d.code == "E821"]
    assert "container 'main' resources.requests['cpu']" in problem.message  # 'side' sets it
