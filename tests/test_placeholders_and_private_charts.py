"""Two things a compile can see would fail on the clusters, though every file is valid:

- W111: `gitops.repoURL` is still a placeholder (a name RFC 2606/6761 reserve for examples and tests, as `easel
  init` and the schema's default write it), so every cluster's bootstrap would follow a repository that does not
  exist. Loopback and private names are real and pass.
- E806: a chart from a private repository (a Repository with `secretRef`) whose traits reach it by kustomize on an
  Argo CD cluster: Argo CD inflates such a chart with kustomize's helmCharts, which gets no repository
  credentials (argoproj/argo-cd#10745, #16623). Its own Helm source, used when every trait goes through values,
  gets them; Flux's HelmRelease reads the Repository's secretRef.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from builders import cluster, docs, gpu_device
from conftest import easel, write_files

REAL_URL = "https://git.acme.internal/platform/fleet.git"  # .internal: for private networks, not an example


def _settings(gitops: str) -> str:
    return f"apiVersion: easel.dev/v1alpha1\nkind: Settings\nspec:\n  gitops: {gitops}\n"


def _warnings(run) -> list[tuple[str, str]]:
    """(location, code) of each warning printed, in order."""
    return re.findall(r"^(\S+): warning\[(W\d+)\]", run.err, re.M)


def _point(repo: Path, location: str) -> str:
    """The text of the file from a printed `file:line:column`."""
    file, line, column = location.split(":")
    return (repo / file).read_text().splitlines()[int(line) - 1][int(column) - 1:]


# --- W111: the placeholder repoURL ------------------------------------------------------------------------------

def test_the_scaffold_warns_at_its_placeholder_repo_url_and_still_compiles(repo: Path):
    run = easel("compile", cwd=repo)
    assert run.code == 0 and (repo / "output").is_dir(), run.text  # a warning: written all the same
    [(where, code)] = _warnings(run)
    assert code == "W111" and where.startswith("easel.yaml:")
    assert _point(repo, where).startswith("https://git.example.com/platform/fleet.git")
    assert "is a placeholder (git.example.com is reserved for examples)" in run.err
    assert "hint: set gitops.repoURL to the repository your clusters read" in run.err


@pytest.mark.parametrize("url", [
    "https://example.com/fleet.git", "https://git.example.org/fleet.git", "http://code.eu.example.net/fleet",
    "https://gitea.example/fleet.git", "https://git.invalid/fleet.git", "ssh://git@forge.test/fleet.git",
    "git@git.example.com:platform/fleet.git", "https://GIT.EXAMPLE.COM./fleet.git",
])
def test_names_reserved_for_examples_are_placeholders(repo: Path, url: str):
    write_files(repo, {"easel.yaml": _settings(f"{{repoURL: '{url}'}}")})
    run = easel("validate", cwd=repo)
    assert run.code == 0 and [code for _, code in _warnings(run)] == ["W111"], run.text
    assert _point(repo, _warnings(run)[0][0]).startswith(f"'{url}'")


@pytest.mark.parametrize("url", [
    REAL_URL, "https://github.com/acme/fleet.git", "git@gitlab.com:acme/fleet.git", "http://localhost:3000/fleet.git",
    "http://127.0.0.1:3000/fleet.git", "https://git.example.com.au/fleet.git", "https://examples.com/fleet.git",
])
def test_real_hosts_and_loopback_are_not(repo: Path, url: str):
    write_files(repo, {"easel.yaml": _settings(f"{{repoURL: '{url}'}}")})
    run = easel("compile", cwd=repo)
    assert run.code == 0 and run.err == "", run.text
    bootstrap = yaml.safe_load_all((repo / "output/bootstrap/flux/local.yaml").read_text())
    assert next(d for d in bootstrap if d["kind"] == "GitRepository")["spec"]["url"] == url


def test_an_unset_repo_url_is_the_schemas_placeholder_said_where_it_would_go(repo: Path):
    write_files(repo, {"easel.yaml": _settings("{engine: flux, branch: main}")})
    run = easel("validate", cwd=repo)
    [(where, code)] = _warnings(run)
    assert (run.code, code) == (0, "W111") and _point(repo, where).startswith("{engine: flux")
    assert "gitops.repoURL is not set" in run.err and "git.example.com" in run.err


def test_without_easel_yaml_the_default_placeholder_is_said_too(repo: Path):
    (repo / "easel.yaml").unlink()
    run = easel("compile", "--format", "json", cwd=repo)
    assert run.code == 0, run.text
    [warning] = json.loads(run.out)["diagnostics"]
    assert (warning["code"], warning["file"], warning["line"]) == ("W111", "easel.yaml", None)
    assert "there is no easel.yaml" in warning["message"]


def test_oci_delivery_does_not_read_repo_url(repo: Path):
    oci = "{delivery: oci, oci: {repository: registry.acme.internal/platform/fleet}}"
    write_files(repo, {"easel.yaml": _settings(oci)})
    run = easel("compile", cwd=repo)
    assert run.code == 0 and run.err == "", run.text


def test_validate_and_compile_say_it_alike_and_the_cache_says_it_again(repo: Path):
    validated, replayed, compiled = (easel("validate", cwd=repo), easel("validate", cwd=repo),
                                     easel("compile", cwd=repo))
    assert validated.err == replayed.err == compiled.err and "warning[W111]" in compiled.err
    as_json = [json.loads(easel(command, "--format", "json", cwd=repo).out) for command in ("validate", "compile")]
    assert as_json[0]["diagnostics"] == as_json[1]["diagnostics"]
    assert [(d["code"], d["severity"]) for d in as_json[0]["diagnostics"]] == [("W111", "warning")]
    assert as_json[0]["warnings"] == 1 and as_json[0]["errors"] == 0


def test_the_warning_takes_its_place_among_the_errors(repo: Path):
    workload = repo / "workloads/demo/hello.yaml"
    workload.write_text(workload.read_text().replace("project: demo", "project: dmo"))
    clusters = repo / "clusters/local.yaml"
    clusters.write_text(clusters.read_text().replace("labels: {tier: dev}", "labels: {tier: dev, gpu: true}"))
    run = easel("validate", cwd=repo)
    printed = re.findall(r"^(\S+?):\d+:\d+: (?:error|warning)\[(\w+)\]", run.err, re.M)
    assert run.code == 1 and printed == [("clusters/local.yaml", "E205"), ("easel.yaml", "W111"),
                                         ("workloads/demo/hello.yaml", "E302")], run.text


# --- E806: a private chart Argo CD would inflate through kustomize ----------------------------------------------

TARGET = 'target: {kind: Deployment, name: ".*-engine"}, container: engine'
# every part of the gpu trait through the chart's values: nothing left to patch
ALL_GPU_VALUES = ('traitValues: {gpu.count: \'engine.resources.limits["nvidia.com/gpu"]\', '
                  "gpu.pod.nodeSelector: engine.nodeSelector, gpu.pod.tolerations: engine.tolerations}")
GPU = "[{type: gpu, properties: {count: 1, product: A}}]"


def _fleet(tmp_path: Path, *, engines: tuple[str, ...] = ("argocd",), secret: str | None = "vendor-pull",
           kind: str = "helm", properties: str = TARGET, traits: str = GPU, workload_traits: str = "") -> Path:
    """A private (or, secret None, public) chart `serving` run by workload team/w on GPU clusters c0, c1, ... of
    these engines, placed on all of them."""
    url = "https://charts.acme.internal" if kind == "helm" else "oci://registry.acme.internal/charts"
    repository = f"{{type: {kind}, url: {url}" + (f", secretRef: {secret}" if secret else "") + "}"
    files = {
        "easel.yaml": _settings(f"{{repoURL: {REAL_URL}}}"),
        "environments/env.yaml": docs("kind: Project\nmetadata: {name: team}\nspec: {}", f"""
kind: Environment
metadata: {{name: dev}}
spec: {{projects: ["*"], placement: {{numberOfClusters: {len(engines)}}}}}
"""),
        "profiles/repos.yaml": docs(f"kind: Repository\nmetadata: {{name: vendor}}\nspec: {repository}"),
        "profiles/app.yaml": docs(f"""
kind: WorkloadProfile
metadata: {{name: app}}
spec:
  version: 1.0.0
  components:
    - name: llm
      type: helm-chart
      properties: {{repository: vendor, chart: serving, version: 0.3.0, {properties}}}
      traits: {traits}
"""),
        "workloads/w.yaml": docs(f"""
kind: Workload
metadata: {{name: w}}
spec: {{project: team, environment: dev, profile: {{name: app}}{workload_traits}}}
"""),
    }
    for index, engine in enumerate(engines):
        files[f"clusters/c{index}.yaml"] = cluster(f"c{index}", spec=f"gitops: {{engine: {engine}}}",
                                                   devices=[gpu_device(f"c{index}-gpu", count=8)])
    return write_files(tmp_path / "repo", files)


def _refusals(run) -> list[str]:
    return re.findall(r"^(\S+): error\[E806\]", run.err, re.M)


def test_a_private_chart_patched_on_argo_cd_is_refused_at_the_trait_that_patches_it(tmp_path: Path):
    repo = _fleet(tmp_path)
    run = easel("compile", cwd=repo)
    [where] = _refusals(run)
    assert run.code == 1 and not (repo / "output").exists(), run.text
    assert where.startswith("profiles/app.yaml:") and _point(repo, where).startswith("{type: gpu")
    message = run.err.split("error[E806]: ", 1)[1]
    assert "private repository 'vendor' (secretRef 'vendor-pull')" in message and "trait 'gpu' reaches it by kustomize" in message
    assert "Argo CD on cluster c0" in message and "no repository credentials" in message
    assert "(workload team/w)" in message
    assert "traitValues" in message and "Flux" in message  # the hint: both ways out
    assert "note: profiles/repos.yaml:" in run.err  # where the secretRef is
    assert easel("validate", cwd=repo).err == run.err


def test_an_oci_private_chart_is_refused_alike(tmp_path: Path):
    run = easel("validate", cwd=_fleet(tmp_path, kind="oci"))
    assert run.code == 1 and len(_refusals(run)) == 1, run.text


def test_one_refusal_names_every_argo_cd_cluster_and_no_flux_one(tmp_path: Path):
    run = easel("validate", cwd=_fleet(tmp_path, engines=("argocd", "flux", "argocd")))
    assert run.code == 1 and len(_refusals(run)) == 1, run.text
    assert "Argo CD on clusters c0, c2 would" in run.err and "c1" not in run.err


def test_a_trait_the_workload_adds_is_where_the_refusal_points(tmp_path: Path):
    repo = _fleet(tmp_path, traits="[]", workload_traits=", traits: {llm: [{type: gpu, properties: {count: 1}}]}")
    run = easel("validate", cwd=repo)
    [where] = _refusals(run)
    assert where.startswith("workloads/w.yaml:") and _point(repo, where).startswith("{type: gpu"), run.text


def test_on_flux_the_helm_release_reads_the_repositorys_secret(tmp_path: Path):
    repo = _fleet(tmp_path, engines=("flux",))
    run = easel("compile", cwd=repo)
    assert run.code == 0 and not _refusals(run), run.text
    sources = [d for p in (repo / "output/clusters/c0").rglob("*.yaml") for d in yaml.safe_load_all(p.read_text())
               if d and d.get("kind") == "HelmRepository"]
    assert [s["spec"]["secretRef"] for s in sources] == [{"name": "vendor-pull"}]


def _application(repo: Path) -> dict:
    return yaml.safe_load((repo / "output/clusters/c0/apps/team/w/c0-team-w-llm.yaml").read_text())


def test_a_public_chart_patched_on_argo_cd_goes_through_the_kustomize_wrapper(tmp_path: Path):
    repo = _fleet(tmp_path, secret=None)
    run = easel("compile", cwd=repo)
    assert run.code == 0 and not _refusals(run), run.text
    wrapper = yaml.safe_load((repo / "output/clusters/c0/workloads/team/w/llm/kustomization.yaml").read_text())
    assert wrapper["helmCharts"][0]["repo"] == "https://charts.acme.internal" and wrapper["patches"]


@pytest.mark.parametrize("properties, traits", [(f"{TARGET}, {ALL_GPU_VALUES}", GPU), (TARGET, "[]")],
                         ids=["every-trait-through-values", "no-traits"])
def test_a_private_chart_argo_cd_renders_itself_is_fine(tmp_path: Path, properties: str, traits: str):
    repo = _fleet(tmp_path, properties=properties, traits=traits)
    run = easel("compile", cwd=repo)
    assert run.code == 0 and not _refusals(run), run.text
    source = _application(repo)["spec"]["source"]  # Argo CD's own Helm source: it finds the credentials by URL
    assert (source["repoURL"], source["chart"]) == ("https://charts.acme.internal", "serving")
    assert not (repo / "output/clusters/c0/workloads/team/w/llm").exists()
