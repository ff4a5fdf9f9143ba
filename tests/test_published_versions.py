"""Every published profile version is checked when it is published: a version no workload runs yet is resolved,
checked against the policy of each environment that allows it, and decided, planned, rendered and proven on one
cluster per distinct set of cluster facts, so a broken version fails the commit that adds it. Nothing of it is
written."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from builders import ROOT, gpu_cluster
from conftest import easel, tree, write_files
from helm_servers import pack_folder
from scenario import TEAM_IN_DEV, codes, compile_files, one_component_app, replaced

import compiler.prove
from compiler.runtime import helm

# hello 1.0.0 as `easel init` writes it, as a later version whose `web` component is given as written here
VERSION = """
apiVersion: easel.dev/v1alpha1
kind: WorkloadProfile
metadata: {{name: hello}}
spec:
  version: 1.1.0
  parameters:
    message: {{type: string, default: hello from easel}}
    replicas: {{type: integer, minimum: 1, default: 1}}
{parameters}
  components:
{components}
"""

WEB = """
    - name: web
      type: webservice
      properties:
        image: {image}
        port: 8080
        runAsUser: 65532
        replicas: "{{{{ params.replicas }}}}"
        env: {{WHOAMI_NAME: "{{{{ params.message }}}}", WHOAMI_PORT_NUMBER: "8080"}}
      traits:
        - type: resources
          properties: {{cpu: 100m, memory: 64Mi}}
"""

# the user's story: a chart component whose `target` was left out, which only `easel lock --update` used to find
CHART_WITHOUT_TARGET = """
    - name: server
      type: helm-chart
      properties:
        repository: charts
        chart: server
        version: 1.0.0
        container: server
      traits:
        - type: resources
          properties: {cpu: "1", memory: 1Gi}
"""

REPOSITORY = """
apiVersion: easel.dev/v1alpha1
kind: Repository
metadata: {name: charts}
spec: {type: helm, url: https://charts.example.com}
"""

# a custom resource whose CRD nothing installs: found by the proof of what a cluster would apply (E412)
WIDGET = """
    - name: widget
      type: manifests
      properties:
        podTemplates: []
        objects:
          - {apiVersion: widgets.example.com/v1, kind: Widget, metadata: {name: w}, spec: {size: 1}}
"""

GPU_JOB = """
    - name: trainer
      type: webservice
      properties:
        image: ghcr.io/traefik/whoami:v1.10
        port: 8080
        runAsUser: 65532
      traits:
        - type: gpu
          properties: {count: 1}
"""


def _publish(repo, components: str = "", parameters: str = "", image: str = "ghcr.io/traefik/whoami:v1.10") -> None:
    web = WEB.format(image=image).strip("\n")
    write_files(repo, {"profiles/hello/1.1.0.yaml": VERSION.format(
        parameters=parameters, components=web + ("\n" + components.strip("\n") if components else ""))})


def _compiled(repo) -> dict[str, bytes]:
    run = easel("compile", cwd=repo)
    assert run.code == 0, run.text
    return tree(repo / "output") | {"easel.lock": (repo / "easel.lock").read_bytes()}


def _fleet(repo, identical: int, other_kubernetes: int = 0) -> None:
    """The init repository's one cluster replaced by `identical` clusters alike in every fact, and
    `other_kubernetes` more on another Kubernetes version."""
    (repo / "clusters/local.yaml").unlink()
    clusters = [(f"c{i:02d}", "1.30.2") for i in range(identical)]
    clusters += [(f"k{i:02d}", "1.31.1") for i in range(other_kubernetes)]
    write_files(repo, {f"clusters/{name}.yaml": f"""
        apiVersion: easel.dev/v1alpha1
        kind: Cluster
        metadata: {{name: {name}, labels: {{tier: dev}}}}
        spec:
          source: byoc
          kubernetesVersion: "{version}"
    """ for name, version in clusters})


def test_a_broken_version_no_workload_runs_fails_validate_at_its_own_file(repo):
    before = _compiled(repo)
    write_files(repo, {"profiles/repositories.yaml": REPOSITORY})
    _publish(repo, CHART_WITHOUT_TARGET)
    run = easel("validate", cwd=repo)
    assert run.code == 1, run.text
    found = re.search(r"profiles/hello/1\.1\.0\.yaml:(\d+):\d+: error\[E410\]: component 'server' names container "
                      r"'server' but no `target` \(published version hello 1\.1\.0\)", run.text)
    assert found, run.text
    assert run.text.count("error[E410]") == 1
    assert "no workload runs hello 1.1.0 yet: checked in environment dev as a workload of project demo" in run.text
    # compile rejects what validate rejects, and writes nothing: the workload keeps 1.0.0 from easel.lock
    assert easel("compile", "--check", cwd=repo).code == 1
    assert easel("compile", cwd=repo).code == 1
    assert tree(repo / "output") | {"easel.lock": (repo / "easel.lock").read_bytes()} == before


def test_a_good_new_version_passes_and_changes_neither_the_output_nor_the_lock(repo):
    before = _compiled(repo)
    _publish(repo)
    run = easel("validate", cwd=repo)
    assert run.code == 0 and "W114" not in run.text and "hello 1.1.0" not in run.text, run.text
    assert _compiled(repo) == before  # the stand-in is proven, never written
    explained = easel("explain", "demo/hello", cwd=repo)
    assert "1.1.0 (no workload runs it in dev): checked as a workload of project demo on local, one cluster per " \
           "set of cluster facts (1 in all)" in explained.out, explained.out
    data = json.loads(easel("explain", "demo/hello", "--format", "json", cwd=repo).out)
    assert data["profile"]["checkedWithoutWorkload"] == [
        {"version": "1.1.0", "environment": "dev", "project": "demo", "clusters": ["local"], "standingFor": 1,
         "fromExamples": [], "withoutValue": []}]


def test_a_parameter_nothing_sets_is_given_a_stand_in_and_what_reads_it_is_not_judged(repo):
    """Only the environment's registry is allowed: the stand-in value of `image` would break that rule, but it is
    no value a workload sets, so the checks that need the value are left out, and that is said once."""
    env = repo / "environments/dev.yaml"
    env.write_text(env.read_text().replace("requiredTraits: [security-context]",
                                           "requiredTraits: [security-context]\n    allowedRegistries: [ghcr.io]"))
    _compiled(repo)
    _publish(repo, parameters="    image: {type: string}", image='"{{ params.image }}"')
    run = easel("validate", cwd=repo)
    assert run.code == 0, run.text
    assert run.text.count("warning[W114]") == 1 and "E706" not in run.text and "E812" not in run.text, run.text
    assert re.search(r"profiles/hello/1\.1\.0\.yaml:\d+:\d+: warning\[W114\]: 1 published version checked with "
                     r"stand-in values for parameters nothing sets \(hello 1\.1\.0: image\)", run.text), run.text
    explained = easel("explain", "demo/hello", cwd=repo).out
    assert "image has no value: what its templates give is not checked" in explained, explained


def test_the_schemas_examples_give_a_parameter_its_value(repo):
    env = repo / "environments/dev.yaml"
    env.write_text(env.read_text().replace("requiredTraits: [security-context]",
                                           "requiredTraits: [security-context]\n    allowedRegistries: [ghcr.io]"))
    _compiled(repo)
    _publish(repo, parameters='    image: {type: string, examples: ["docker.io/library/nginx:1.27"]}',
             image='"{{ params.image }}"')
    run = easel("validate", cwd=repo)  # the example is checked as a workload's value would be: not allowed here
    assert run.code == 1 and "W114" not in run.text, run.text
    assert re.search(r"profiles/hello/1\.1\.0\.yaml:\d+:\d+: error\[E706\]: image 'docker\.io/library/nginx:1\.27' "
                     r"of component 'web' .*\(published version hello 1\.1\.0\)", run.text), run.text
    _publish(repo, parameters='    image: {type: string, examples: ["ghcr.io/traefik/whoami:v1.10"]}',
             image='"{{ params.image }}"')
    run = easel("validate", cwd=repo)
    assert run.code == 0 and "W114" not in run.text, run.text
    explained = easel("explain", "demo/hello", cwd=repo).out
    assert "image from its examples" in explained, explained


def test_a_version_is_proven_once_per_distinct_set_of_cluster_facts(repo, monkeypatch):
    _fleet(repo, identical=50, other_kubernetes=1)
    _compiled(repo)
    _publish(repo)
    proven = []
    real = compiler.prove.prove_cluster

    def counting(plan, *args, **kwargs):
        if any(release.version == "1.1.0" for release in plan.workloads):
            proven.append(plan.cluster)
        return real(plan, *args, **kwargs)

    monkeypatch.setattr(compiler.prove, "prove_cluster", counting)
    run = easel("--no-cache", "validate", cwd=repo)
    assert run.code == 0, run.text
    assert sorted(proven) == ["c00", "k00"]  # one of the 50 alike, and the one on another Kubernetes version
    explained = easel("--no-cache", "explain", "demo/hello", cwd=repo).out
    assert "checked as a workload of project demo on c00, k00, one cluster per set of cluster facts (51 in all)" \
        in explained, explained


def test_a_problem_only_a_cluster_shows_is_said_once_for_fifty_clusters_alike(repo):
    _fleet(repo, identical=50)
    _compiled(repo)
    _publish(repo, WIDGET)
    run = easel("validate", cwd=repo)
    assert run.code == 1, run.text
    assert run.text.count("error[E412]") == 1, run.text
    assert re.search(r"profiles/hello/1\.1\.0\.yaml:\d+:\d+: error\[E412\]: component 'widget' writes a Widget "
                     r"\(widgets\.example\.com/v1\), but nothing installs the widgets\.example\.com CRDs before it on "
                     r"cluster 'c00' \(published version hello 1\.1\.0 on cluster c00\)", run.text), run.text
    assert "on c00 (one cluster per set of cluster facts, for 50 clusters)" in run.text, run.text


def test_a_version_with_gpus_is_proven_though_the_projects_quota_is_spent(repo):
    """The first project of the environment has a GPU quota of 0 (the init repository's `demo`): a stand-in is
    placed on the cluster with GPUs anyway, and its pods' requests proven against what it was booked there."""
    write_files(repo, gpu_cluster("gpus", "{tier: dev}"))
    _compiled(repo)
    _publish(repo, GPU_JOB)
    run = easel("validate", cwd=repo)
    assert run.code == 0 and "hello 1.1.0" not in run.text, run.text
    explained = easel("explain", "demo/hello", cwd=repo).out
    assert "1.1.0 (no workload runs it in dev): checked as a workload of project demo on gpus, one cluster per set " \
        "of cluster facts (1 in all)" in explained, explained
    # the same version asking more GPUs of one pod than any device has: no cluster there could take it
    _publish(repo, GPU_JOB.replace("count: 1", "count: 16"))
    explained = easel("explain", "demo/hello", cwd=repo).out
    assert "1.1.0 (no workload runs it in dev): checked as a workload of project demo and resolved only: no cluster " \
        "there could take it" in explained, explained


def test_a_stack_version_no_cluster_runs_is_resolved_as_a_stack(repo):
    base = """
        apiVersion: easel.dev/v1alpha1
        kind: WorkloadProfile
        metadata: {{name: base}}
        spec:
          version: {version}
          type: Infrastructure
          components:
            - name: config
              type: manifests
              properties:
                objects: {objects}
    """
    config = "[{apiVersion: v1, kind: ConfigMap, metadata: {name: base}, data: {a: b}}]"
    write_files(repo, {"profiles/base/1.0.0.yaml": base.format(version="1.0.0", objects=config)})
    hello = repo / "profiles/hello/1.0.0.yaml"
    hello.write_text(hello.read_text().replace("  components:", "  requires:\n    profiles: [{name: base}]\n"
                                                                "  components:"))
    before = _compiled(repo)
    write_files(repo, {"profiles/base/1.1.0.yaml": base.format(version="1.1.0", objects="not a list")})
    run = easel("validate", cwd=repo)  # the cluster keeps base 1.0.0 (easel.lock): 1.1.0 is checked all the same
    assert run.code == 1, run.text
    assert re.search(r"profiles/base/1\.1\.0\.yaml:\d+:\d+: error\[E407\]: .*\(stack base 1\.1\.0\)", run.text), run.text
    assert "no cluster runs base 1.1.0 yet: checked as a stack, with its defaults" in run.text, run.text
    (repo / "profiles/base/1.1.0.yaml").write_text(base.format(version="1.1.0", objects=config))
    assert easel("validate", cwd=repo).code == 0
    assert _compiled(repo) == before


@pytest.mark.skipif(not helm.available(), reason="helm-python-sdk (the `helm` extra) is not installed")
def test_a_new_version_whose_chart_patch_targets_nothing_is_caught_by_the_charts_proof():
    """Rendered by Helm's engine from the pinned archive, as a workload's chart is: the patch target of 1.1.0
    matches none of the chart's objects (E817), though no workload runs 1.1.0."""
    name, version, data = pack_folder(ROOT / "tests/helm_charts/llm-serving")
    serving = """    - name: llm
      type: helm-chart
      properties: {{repository: charts, chart: llm-serving, version: 0.3.0, target: {{kind: Deployment, name: "{0}"}},
                   container: engine, values: {{engine: {{model: m}}}}}}
      traits: [{{type: gpu, properties: {{count: 1, product: A}}}}]"""
    files = {**TEAM_IN_DEV, **one_component_app(serving.format(".*-engine")), **gpu_cluster("c"),
             f"charts/charts/{name}-{version}.tgz": data,
             "easel.lock": "apiVersion: easel.dev/v1alpha1\nkind: Lock\ncharts:\n"
                           f"  charts/{name} {version}: sha256:{hashlib.sha256(data).hexdigest()}\n"}
    files = replaced(files, "workloads/w.yaml", "profile: {name: app}", 'profile: {name: app, version: "1.0.0"}')
    assert codes(compile_files(files)) == []
    newer = files["profiles/app.yaml"].replace("version: 1.0.0", "version: 1.1.0").replace(".*-engine", ".*-vllm")
    result = compile_files({**files, "profiles/app-1.1.0.yaml": newer})
    found = [d for d in result.diagnostics if d.code == "E817"]
    assert len(found) == 1 and found[0].location.file == "profiles/app-1.1.0.yaml", found
    assert "matches none of the chart's objects" in found[0].message and str(found[0].subject) == \
        "(published version app 1.1.0 on cluster c)"
    assert result.decisions.workloads["team/w"].version == "1.0.0" and result.files is None  # nothing to write
