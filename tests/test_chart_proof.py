"""Charts proven on their rendered objects (SPEC §3 step 8, §6 Charts): the archive easel.lock pins rendered by
Helm's own engine with the values, release and namespace the tree gives it, easel's post-renderer patches
applied as kustomize applies them, and every check the tree's own objects get: the GPUs booked, the patch
targets and containers found, required traits on every pod template, images listed and allowed, values against
the chart's schema."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml
from builders import gpu_cluster
from conftest import easel
from helm_servers import pack_folder
from scenario import TEAM_IN_DEV, codes, compile_files, one_component_app

from compiler.load.source import MemorySource
from compiler.pipeline import HelmCharts, Request, compile_repository
from compiler.prove import objects as prove_objects
from compiler.runtime import helm

pytestmark = pytest.mark.skipif(not helm.available(), reason="helm-python-sdk (the `helm` extra) is not installed")

CHARTS = Path(__file__).resolve().parent / "helm_charts"


def _archive(name: str) -> tuple[str, str, bytes]:
    return pack_folder(CHARTS / name)


def _repository(component: str, chart: str = "llm-serving", environment: str = "spec: {projects: [\"*\"]}",
                pin: bool = True, archive: bytes | None = None) -> dict:
    name, version, data = _archive(chart)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    files: dict = {**TEAM_IN_DEV, **one_component_app(component), **gpu_cluster("c"),
                   f"charts/charts/{name}-{version}.tgz": archive if archive is not None else data,
                   "easel.lock": "apiVersion: easel.dev/v1alpha1\nkind: Lock\n"
                                 + (f"charts:\n  charts/{name} {version}: {digest}\n" if pin else "")}
    files["environments/env.yaml"] = files["environments/env.yaml"].replace('spec: {projects: ["*"]}', environment)
    return files


def _serving(properties: str = 'target: {kind: Deployment, name: ".*-engine"}, container: engine',
             values: str = "{engine: {model: m}}", traits: str = "[{type: gpu, properties: {count: 1, product: A}}]"
             ) -> str:
    return f"""    - name: llm
      type: helm-chart
      properties: {{repository: charts, chart: llm-serving, version: 0.3.0, {properties}, values: {values}}}
      traits: {traits}"""


def _errors(result, code: str) -> list[str]:
    return [d.message for d in result.diagnostics if d.code == code]


def test_a_chart_is_rendered_patched_and_proven_and_its_images_are_listed():
    result = compile_files(_repository(_serving()))
    assert codes(result) == [] and not _errors(result, "W107")
    assert result.files is not None
    assert result.files["clusters/c/images.txt"].splitlines() == ["lmcache/lmstack-router:0.1.0",
                                                                  "vllm/vllm-openai:v0.8.5"]


def test_a_target_that_matches_nothing_fails_naming_the_charts_pod_objects():
    result = compile_files(_repository(_serving('target: {kind: Deployment, name: ".*-vllm"}, container: engine')))
    [message] = _errors(result, "E817")
    assert "matches none of the chart's objects" in message
    assert "Deployment 'w-llm-engine' (engine); Deployment 'w-llm-router' (router)" in message
    assert "E810" in codes(result) and result.files is None  # and the GPUs booked are not requested


def test_a_container_the_target_does_not_run_fails_before_kustomize_adds_one_without_an_image():
    result = compile_files(_repository(_serving('target: {kind: Deployment, name: ".*-engine"}, container: vllm')))
    [message] = _errors(result, "E817")
    assert "container 'vllm'" in message and "its containers: engine" in message
    assert result.files is None


def test_a_gpu_mapped_to_a_values_path_the_chart_ignores_fails():
    unknown = compile_files(_repository(_serving(
        'target: {kind: Deployment, name: ".*-engine"}, container: engine, traitValues: {gpu.count: engine.gpuCount}')))
    [problem] = [d for d in unknown.diagnostics if d.code == "E817"]
    assert "'engine.gpuCount'" in problem.message and problem.location.path[-2:] == ("traitValues", "gpu.count")
    # a path the chart knows, but whose value never becomes a GPU request: the rendered pods show it
    ignored = compile_files(_repository(_serving(
        'target: {kind: Deployment, name: ".*-engine"}, container: engine, '
        "traitValues: {gpu.count: router.replicaCount}")))
    assert any("ask for 0" in message for message in _errors(ignored, "E810"))


def test_replicas_the_chart_runs_are_counted_and_a_replicas_trait_mapped_to_its_values_books_them():
    unbooked = compile_files(_repository(_serving(values="{engine: {model: m, replicaCount: 2}}")))
    assert any("easel booked 1 × 1" in m and "ask for 2" in m for m in _errors(unbooked, "E810"))
    mapped = _serving('target: {kind: Deployment, name: ".*-engine"}, container: engine, '
                      "traitValues: {replicas.count: engine.replicaCount}",
                      traits="[{type: gpu, properties: {count: 1, product: A}}, "
                             "{type: replicas, properties: {count: 2}}]")
    booked = compile_files(_repository(mapped))
    assert codes(booked) == []
    [booking] = booked.plans.clusters["c"].release("team/w").bookings
    assert [(g.per_replica, g.replicas) for g in booking.gpus] == [(1, 2)]


def test_values_the_charts_schema_refuses_fail_at_the_component():
    result = compile_files(_repository(_serving(values="{engine: {model: m, replicaCount: -1}}")))
    [problem] = [d for d in result.diagnostics if d.code == "E819"]
    assert "/engine/replicaCount" in problem.message and problem.location.file == "profiles/app.yaml"


def test_an_archive_that_is_not_the_pinned_one_or_not_pinned_is_refused():
    _, _, other = _archive("batch-tools")
    changed = compile_files(_repository(_serving(), archive=other))
    assert "E109" in codes(changed)  # it holds another chart than its name says
    _, _, data = _archive("llm-serving")
    tampered = _repository(_serving())
    tampered["easel.lock"] = tampered["easel.lock"].replace("sha256:", "sha256:0") [:-2] + "\n"
    assert "E108" in codes(compile_files(tampered)) or "E110" in codes(compile_files(tampered))
    repinned = _repository(_serving())
    repinned["easel.lock"] = repinned["easel.lock"].rsplit(" ", 1)[0] + " sha256:" + "0" * 64 + "\n"
    assert _errors(compile_files(repinned), "E110")
    unpinned = compile_files(_repository(_serving(), pin=False))
    assert any("not pinned" in m for m in _errors(unpinned, "E110"))


def test_a_broken_archive_is_an_error_at_its_file():
    result = compile_files(_repository(_serving(), archive=b"not a tar"))
    [problem] = [d for d in result.diagnostics if d.code == "E109"]
    assert problem.location.file == "charts/charts/llm-serving-0.3.0.tgz"


REQUIRED = 'spec: {projects: ["*"], policy: {requiredTraits: [security-context]}}'
BATCH = """    - name: tools
      type: helm-chart
      properties: {repository: charts, chart: batch-tools, version: 1.2.0, crds: [tools.example.com]}
      traits: [{type: security-context, properties: {runAsNonRoot: true, runAsUser: 1000}}]"""


def test_a_required_pod_security_context_reaches_the_charts_jobs_cronjobs_daemonsets_and_hooks():
    files = _repository(BATCH, chart="batch-tools", environment=REQUIRED)
    files["clusters/c.yaml"] = files["clusters/c.yaml"].replace("spec:\n", "spec:\n  gitops: {engine: argocd}\n")
    result = compile_files(files)  # Argo CD: kustomize inflates the chart, hooks as plain objects, and patches all
    assert codes(result) == [], [d.message for d in result.diagnostics]
    images = result.files["clusters/c/images.txt"].splitlines()
    assert len(images) >= 4  # the hook's, the CronJob's, the DaemonSet's, the Job's and the Deployment's images


def test_on_flux_a_hook_the_post_renderer_may_not_reach_is_said_to_lack_a_required_trait():
    result = compile_files(_repository(BATCH, chart="batch-tools", environment=REQUIRED))
    [problem] = [d for d in result.diagnostics if d.code == "E813"]
    assert "Job 'w-tools-migrate'" in problem.message and "a Helm hook" in problem.message
    assert "traitValues" in problem.message  # what to do about it
    # ... which reaches the hook through the chart's own values
    mapped = BATCH.replace("crds: [tools.example.com]", "crds: [tools.example.com], "
                           "traitValues: {security-context.pod.securityContext: podSecurityContext}")
    assert codes(compile_files(_repository(mapped, chart="batch-tools", environment=REQUIRED))) == []


def _tool(chart: str, version: str) -> str:
    return f"""    - name: tools
      type: helm-chart
      properties: {{repository: charts, chart: {chart}, version: {version}}}"""


def test_a_chart_that_calls_lookup_is_flagged():
    result = compile_files(_repository(_tool("tools-with-lookup", "0.1.0"), chart="tools-with-lookup"))
    assert codes(result) == []
    [flagged] = [d for d in result.diagnostics if d.code == "W108"]
    assert "calls `lookup`" in flagged.message and flagged.location.file == "profiles/app.yaml"


@pytest.mark.slow  # waits out the engine's deadline
def test_a_runaway_chart_ends_in_an_error_at_the_deadline_not_a_hang(monkeypatch):
    monkeypatch.setattr(helm, "DEADLINE", 2.0)
    result = compile_files(_repository(_tool("runaway", "0.1.0"), chart="runaway"))
    [problem] = [d for d in result.diagnostics if d.code == "E818"]
    assert "did not render within 2 s" in problem.message and result.files is None


def test_renders_are_kept_in_easels_cache_and_used_again(tmp_path, monkeypatch):
    monkeypatch.setattr(HelmCharts, "known", {})  # what this process rendered before is not this test's,
    monkeypatch.setattr(prove_objects, "_SHARED", None)  # nor the charts' objects it proved
    files = _repository(_serving())
    for path, content in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(content if isinstance(content, bytes) else content.encode())
    assert easel("compile", cwd=tmp_path).code == 0
    assert list((tmp_path / ".easel-cache").glob("render-*.json"))
    # a change elsewhere (a label on the workload) is a new compile; the chart's render is the same one
    workload = tmp_path / "workloads/w.yaml"
    workload.write_text(workload.read_text().replace("metadata: {name: w}", "metadata: {name: w, labels: {a: b}}"))

    def no_engine(self, request):
        raise AssertionError("the engine was asked again")

    monkeypatch.setattr(helm.Engine, "render", no_engine)
    monkeypatch.setattr(HelmCharts, "known", {})  # what this process rendered is forgotten: only the cache holds it
    monkeypatch.setattr(prove_objects, "_SHARED", None)
    run = easel("compile", cwd=tmp_path)
    assert run.code == 0, run.out + run.err


# --- in-house charts: a folder of the config repository -----------------------------------------------------------

def _in_house(engine: str = "flux", chart: str = "llm-serving") -> dict:
    files: dict = {**TEAM_IN_DEV, **one_component_app(_serving().replace(
        "repository: charts, chart: llm-serving, version: 0.3.0", f"path: charts/{chart}")),
        **gpu_cluster("c")}
    if engine == "argocd":
        files["clusters/c.yaml"] = files["clusters/c.yaml"].replace("spec:\n", "spec:\n  gitops: {engine: argocd}\n")
    for path in sorted((CHARTS / "llm-serving").rglob("*")):
        if path.is_file():
            files[f"charts/{chart}/{path.relative_to(CHARTS / 'llm-serving')}"] = path.read_text()
    return files


def test_an_in_house_chart_is_proven_and_written_into_the_tree_for_flux():
    result = compile_files(_in_house())
    assert codes(result) == [] and not _errors(result, "W107")
    folder = "clusters/c/workloads/team/w/llm"
    assert result.files[f"{folder}/charts/llm-serving/Chart.yaml"] == (CHARTS / "llm-serving/Chart.yaml").read_text()
    assert f"{folder}/charts/llm-serving/templates/engine-deployment.yaml" in result.files
    [release] = yaml.safe_load_all(result.files[f"{folder}/objects.yaml"])
    assert release["spec"]["chart"]["spec"]["chart"] == f"./output/{folder}/charts/llm-serving"
    assert release["spec"]["chart"]["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "easel",
                                                           "namespace": "flux-system"}
    assert not any(path.startswith("clusters/c/flux/sources/") for path in result.files)
    assert "vllm/vllm-openai:v0.8.5" in result.files["clusters/c/images.txt"]


def test_an_in_house_chart_on_argocd_is_inflated_by_kustomize_from_beside_its_wrapper():
    result = compile_files(_in_house("argocd"))
    assert codes(result) == []
    folder = "clusters/c/workloads/team/w/llm"
    wrapper = yaml.safe_load(result.files[f"{folder}/kustomization.yaml"])
    [chart] = wrapper["helmCharts"]
    assert chart["name"] == "llm-serving" and "repo" not in chart
    assert chart["kubeVersion"] == "1.30.1"  # kustomize renders for the cluster's version, as the proof did
    assert f"{folder}/charts/llm-serving/values.schema.json" in result.files


def test_an_in_house_chart_folder_easel_did_not_find_is_an_error():
    files = _in_house()
    files["profiles/app.yaml"] = files["profiles/app.yaml"].replace("path: charts/llm-serving", "path: charts/nope")
    result = compile_files(files)
    [problem] = [d for d in result.diagnostics if d.code == "E302"]
    assert "charts/nope" in problem.message and "charts/llm-serving" in (problem.hint or "")


def test_a_chart_an_argocd_application_renders_straight_from_its_source_is_proven_too():
    # no trait patches (the chart's own replicas through its values): the Application names the chart itself
    component = """    - name: llm
      type: helm-chart
      properties: {repository: charts, chart: llm-serving, version: 0.3.0,
                   values: {engine: {model: m, resources: {limits: {nvidia.com/gpu: 1}}}}}"""
    files = _repository(component)
    files["clusters/c.yaml"] = files["clusters/c.yaml"].replace("spec:\n", "spec:\n  gitops: {engine: argocd}\n")
    result = compile_files(files)
    assert "clusters/c/workloads/team/w/llm/kustomization.yaml" not in (result.files or {})
    # the chart's engine asks for a GPU that nothing booked: found in the rendered objects
    assert any("asks for 1 GPU(s) that easel did not book" in m for m in _errors(result, "E810")), \
        [d.message for d in result.diagnostics]


def test_a_chart_that_renders_differently_each_time_is_flagged_once():
    files: dict = {**TEAM_IN_DEV, **one_component_app("""    - name: token
      type: helm-chart
      properties: {path: charts/token}"""), **gpu_cluster("c"),
        "charts/token/Chart.yaml": "apiVersion: v2\nname: token\nversion: 0.1.0\n",
        "charts/token/templates/secret.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: token}\n"
                                              "data: {value: {{ randAlphaNum 16 | quote }}}\n"}
    result = compile_repository_in_memory(files)
    [flagged] = [d for d in result.diagnostics if d.code == "W108"]
    assert "renders differently each time" in flagged.message and codes(result) == []


def compile_repository_in_memory(files: dict):
    """Compiled as it is, without the scenario's checks (compile_files)."""
    return compile_repository(MemorySource(files), Request(last_stage="render"))


def test_a_chart_without_a_dependency_it_declares_is_an_error():
    files: dict = {**TEAM_IN_DEV, **one_component_app("""    - name: app
      type: helm-chart
      properties: {path: charts/app}"""), **gpu_cluster("c"),
        "charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n"
                                 "dependencies: [{name: redis, version: 18.0.0, repository: oci://example.com/c}]\n",
        "charts/app/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n"}
    result = compile_files(files)
    [problem] = [d for d in result.diagnostics if d.code == "E818"]
    assert "'redis'" in problem.message and "helm dependency build" in problem.message


def test_a_custom_resource_of_a_crd_a_chart_ships_may_follow_that_chart():
    files = _repository(BATCH.replace(", crds: [tools.example.com]", "") + """
      release: {}
    - name: sweep
      type: manifests
      dependsOn: [tools]
      properties:
        objects: [{apiVersion: tools.example.com/v1, kind: Sweep, metadata: {name: nightly}, spec: {size: 3}}]""",
                        chart="batch-tools")
    result = compile_files(files)
    assert "E412" not in codes(result), [d.message for d in result.diagnostics if d.code == "E412"]


def test_an_autoscaler_that_may_scale_gpu_pods_past_the_booking_fails():
    result = compile_files(_repository(_serving(
        values="{engine: {model: m, autoscaling: {enabled: true, minReplicas: 1, maxReplicas: 8}}}")))
    assert any("HorizontalPodAutoscaler 'w-llm-engine' may run up to 8" in m for m in _errors(result, "E810"))


def test_gpus_written_as_quantities_are_counted_as_kubernetes_reads_them():
    result = compile_files(_repository(_serving(values="{engine: {model: m, resources: {limits: "
                                                       "{nvidia.com/gpu: 2000m}}}}")))
    # the chart's own limit (2, written 2000m) is merged with the trait's patch (1): the patch wins, one GPU
    assert codes(result) == []
    unbooked = compile_files(_repository(_serving(values="{engine: {model: m, resources: {limits: "
                                                         "{nvidia.com/gpu: 2e0}}}}", traits="[]")))
    assert any("asks for 2e0 GPU(s) that easel did not book" in m for m in _errors(unbooked, "E810"))


def test_gpus_asked_in_a_custom_resource_a_chart_renders_are_not_taken_on_trust():
    files: dict = {**TEAM_IN_DEV, **one_component_app("""    - name: ray
      type: helm-chart
      properties: {path: charts/ray}"""), **gpu_cluster("c", crds="[ray.io]"),
        "charts/ray/Chart.yaml": "apiVersion: v2\nname: ray\nversion: 0.1.0\n",
        "charts/ray/templates/cluster.yaml": (
            "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: r}\nspec:\n  headGroupSpec:\n    template:\n"
            "      spec:\n        containers:\n        - name: head\n          image: rayproject/ray:2.9.0\n"
            "          resources: {limits: {nvidia.com/gpu: 8}}\n")}
    result = compile_files(files)
    [problem] = [d for d in result.diagnostics if d.code == "E810"]
    assert "RayCluster 'r'" in problem.message and "spec.headGroupSpec.template.spec.containers[0]" in problem.message


def test_an_init_container_s_gpus_count_as_the_scheduler_counts_them():
    # init containers run one at a time before the others: a pod asks for the most of them and its containers
    files: dict = {**TEAM_IN_DEV, **one_component_app("""    - name: app
      type: helm-chart
      properties: {path: charts/warm, target: {kind: Deployment}, container: main}
      traits: [{type: gpu, properties: {count: 1, product: A}}]"""), **gpu_cluster("c"),
        "charts/warm/Chart.yaml": "apiVersion: v2\nname: warm\nversion: 0.1.0\n",
        "charts/warm/templates/app.yaml": (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  selector: {matchLabels: {a: b}}\n"
            "  template:\n    metadata: {labels: {a: b}}\n    spec:\n      initContainers:\n      - name: warm\n"
            "        image: busybox:1.36\n        resources: {limits: {nvidia.com/gpu: 1}}\n      containers:\n"
            "      - name: main\n        image: busybox:1.36\n")}
    result = compile_files(files)
    assert codes(result) == [], [d.message for d in result.diagnostics]


def test_an_in_house_chart_folder_holding_a_link_is_refused_through_the_command_line(tmp_path):
    files = _in_house()
    for path, content in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(content)
    (tmp_path / "secret.txt").write_text("not for the chart\n")
    (tmp_path / "charts/llm-serving/templates/leak.yaml").symlink_to(tmp_path / "secret.txt")
    run = easel("validate", cwd=tmp_path)
    assert run.code == 1 and "error[E109]" in run.out + run.err
    assert "is a symbolic link" in run.out + run.err and "Traceback" not in run.out + run.err


def test_on_flux_a_target_that_matches_only_hooks_says_the_post_renderer_may_not_reach_them():
    component = BATCH.replace("crds: [tools.example.com]}", "crds: [tools.example.com], "
                              "target: {kind: Job, name: .*-migrate}, container: migrate}").replace(
        "traits: [{type: security-context, properties: {runAsNonRoot: true, runAsUser: 1000}}]",
        "traits: [{type: gpu, properties: {count: 1, product: A}}]")
    result = compile_files(_repository(component, chart="batch-tools"))
    [problem] = _errors(result, "E817")
    assert "matches only Helm hooks (Job 'w-tools-migrate')" in problem and "traitValues" in problem
