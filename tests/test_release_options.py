"""Release options, typed and validated: Flux HelmRelease timeout, remediation retries, CRD policy and drift
detection; Argo CD sync options and retry. Defaults as a maintainer would set them; the environment's defaults
below the profile component's own."""

from __future__ import annotations

import yaml
from builders import byoc_cluster
from scenario import TEAM_IN_DEV, codes, compile_files, one_component_app

CHART = """    - name: stack
      type: helm-chart{release}
      properties: {{repository: charts, chart: kube-prometheus-stack, version: 65.1.0}}"""


def _files(engine: str = "flux", component: str = "", environment: str = "") -> dict[str, str]:
    release = f"\n      release: {component}" if component else ""
    files = {**TEAM_IN_DEV, **byoc_cluster(engine=engine), **one_component_app(CHART.format(release=release))}
    if environment:
        files["environments/env.yaml"] = files["environments/env.yaml"].replace(
            'spec: {projects: ["*"]}', f'spec: {{projects: ["*"], defaults: {{release: {environment}}}}}')
    return files


def _helm_release(result) -> dict:
    return yaml.safe_load(result.files["clusters/c/workloads/team/w/stack/objects.yaml"])["spec"]


def test_flux_defaults_retry_and_keep_crds_current():
    spec = _helm_release(compile_files(_files()))
    assert spec["install"] == {"remediation": {"retries": 3}, "crds": "Create"}
    assert spec["upgrade"] == {"remediation": {"retries": 3, "remediateLastFailure": True}, "crds": "CreateReplace"}
    assert "timeout" not in spec and "driftDetection" not in spec  # Flux's own defaults (5m; disabled)


def test_the_components_options_win_over_the_environments():
    result = compile_files(_files(component="{timeout: 30m, crds: Skip}",
                                  environment="{timeout: 10m, retries: 5, driftDetection: warn}"))
    spec = _helm_release(result)
    assert spec["timeout"] == "30m"
    assert spec["install"] == {"remediation": {"retries": 5}, "crds": "Skip"}
    assert spec["upgrade"]["crds"] == "Skip" and spec["driftDetection"] == {"mode": "warn"}


def _app(result) -> dict:
    [app] = yaml.safe_load_all(result.files["clusters/c/apps/team/w/c-team-w-stack.yaml"])
    return app["spec"]["syncPolicy"]


def test_argocd_defaults_apply_server_side_and_retry_long_enough():
    policy = _app(compile_files(_files(engine="argocd")))
    assert policy["syncOptions"] == ["ServerSideApply=true"]  # large CRDs (KubeRay's, kube-prometheus-stack's)
    assert policy["retry"] == {"limit": 10, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}}


def test_argocd_sync_options_and_retry():
    result = compile_files(_files(engine="argocd", component="{syncOptions: [ServerSideApply=false, "
                                                              "PruneLast=true], syncRetries: 2}"))
    policy = _app(result)
    assert policy["syncOptions"] == ["ServerSideApply=false", "PruneLast=true"]  # the component's own wins
    assert policy["retry"]["limit"] == 2


def test_a_flux_layer_waits_as_long_as_its_helm_release_may_take():
    result = compile_files(_files(component="{timeout: 20m}") | {"profiles/app.yaml": _files(
        component="{timeout: 20m}")["profiles/app.yaml"].replace("""      properties: {repository: charts, chart: kube-prometheus-stack, version: 65.1.0}""",
        """      properties: {repository: charts, chart: kube-prometheus-stack, version: 65.1.0}
    - name: after
      type: webservice
      dependsOn: [stack]
      properties: {image: registry.example.com/a:1, port: 8080, runAsUser: 1000}""")})
    layer = yaml.safe_load(result.files["clusters/c/flux/layers/easel-team-w-stack.yaml"])["spec"]
    # the finding: the layer gave up after interval - 30s while the install may take 20m and retry 3 times
    assert (layer["wait"], layer["timeout"], layer["retryInterval"]) == (True, "80m", "1m")


def test_bad_release_options_are_clear_errors():
    for bad, words in (("{timeout: soon}", "timeout"), ("{crds: Replace}", "'Skip' or 'Create' or 'CreateReplace'"),
                       ("{syncOptions: [Prune]}", "syncOptions")):
        result = compile_files(_files(component=bad))
        assert codes(result) == ["E206"], (bad, [d.text for d in result.diagnostics])
        problem = next(d for d in result.diagnostics if d.code == "E206")
        assert words in problem.text and problem.location.file == "profiles/app.yaml", problem.text
