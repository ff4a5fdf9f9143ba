"""The chart folders of tests/helm_charts, packed as easel packs an in-house chart and rendered by Helm's own
engine (compiler/runtime/helm.py), and served from where charts come from: a Helm HTTP repository and an OCI
registry (tests/helm_servers.py).

What the engine gives back, as found here: `Rendered.manifests` maps every file of the chart's (and its
subcharts') templates/ folders but the partials (`_*.tpl`) to its rendered text, keyed `<chart>/templates/...`:
- a hook (a `helm.sh/hook` annotation) is one of them like any manifest: nothing sets hooks apart;
- `templates/NOTES.txt` is one of them too, rendered, though it is no manifest;
- a template that renders nothing (a feature turned off) is there, blank (whitespace only);
- the files of `crds/` are not: they are never templates; they are in the archive, as they are;
- a library subchart gives none (its named templates are used by the parent's);
- `lookup` finds nothing (the engine reaches no cluster) and says nothing about it;
- values are checked against `values.schema.json` before rendering: a failure is "render", naming the field.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

import pytest
import yaml
from helm_servers import (
    HELM_CONFIG_TYPE,
    HELM_CONTENT_TYPE,
    MANIFEST_TYPE,
    http_helm_repository,
    oci_registry,
    pack_folder,
    push_chart,
    sha256,
)

from compiler.runtime import helm

CHARTS = Path(__file__).resolve().parent / "helm_charts"
ROOT = CHARTS.parent.parent
needs_engine = pytest.mark.skipif(not helm.available(), reason="helm-python-sdk (the `helm` extra) is not installed")


@pytest.fixture(scope="module")
def engine():
    with helm.Engine(deadline=10.0) as running:
        yield running


def render(engine: helm.Engine, chart: str, values: dict | None = None) -> helm.Rendered:
    _, _, data = pack_folder(CHARTS / chart)
    return engine.render(helm.RenderRequest(data, values or {}, "chat", "team-w", "1.30.2"))


def objects(rendered: helm.Rendered) -> dict[tuple[str, str], dict]:
    """Every object the render gave, by (kind, name)."""
    assert rendered.failure is None, rendered.message
    found = {}
    for text in (rendered.manifests or {}).values():
        for document in yaml.safe_load_all(text):
            if isinstance(document, dict) and "kind" in document:
                found[(document["kind"], document["metadata"]["name"])] = document
    return found


def containers(workload: dict) -> list[dict]:
    pod = workload["spec"]["jobTemplate"]["spec"] if workload["kind"] == "CronJob" else workload["spec"]
    return pod["template"]["spec"]["containers"]


# --- packing ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("folder", "version"), [("llm-serving", "0.3.0"), ("batch-tools", "1.2.0"),
                                                 ("tools-with-lookup", "0.1.0"), ("runaway", "0.1.0")])
def test_each_chart_folder_packs_to_the_same_bytes_every_time(folder, version):
    name, found_version, data = pack_folder(CHARTS / folder)
    assert (name, found_version) == (folder, version)
    assert pack_folder(CHARTS / folder)[2] == data
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
    assert f"{folder}/Chart.yaml" in names and all(n.startswith(f"{folder}/") for n in names)


def test_the_crds_and_the_vendored_library_chart_travel_in_the_archive():
    _, _, data = pack_folder(CHARTS / "batch-tools")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = set(tar.getnames())
        crd = yaml.safe_load(tar.extractfile("batch-tools/crds/sweeps.tools.example.com.yaml").read())
    assert {"batch-tools/charts/common-lib/Chart.yaml", "batch-tools/charts/common-lib/templates/_labels.tpl"} <= names
    assert crd["spec"]["group"] == "tools.example.com" and crd["spec"]["names"]["kind"] == "Sweep"
    size = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["size"]
    assert size["type"] == "integer"


# --- rendering ----------------------------------------------------------------------------------------------------

@needs_engine
def test_llm_serving_renders_an_engine_and_a_router_named_after_the_release(engine):
    rendered = render(engine, "llm-serving")
    found = objects(rendered)
    assert set(found) == {("Deployment", "chat-engine"), ("Deployment", "chat-router"),
                          ("Service", "chat-engine"), ("Service", "chat-router")}
    engine_pods, router = found[("Deployment", "chat-engine")], found[("Deployment", "chat-router")]
    [serving] = containers(engine_pods)
    assert (serving["name"], serving["image"], serving["resources"]) == ("engine", "vllm/vllm-openai:v0.8.5", {})
    assert engine_pods["spec"]["replicas"] == 1 and "facebook/opt-125m" in serving["args"]
    [routing] = containers(router)
    assert (routing["name"], routing["image"]) == ("router", "lmcache/lmstack-router:0.1.0")
    assert "http://chat-engine.team-w.svc:8000" in routing["args"]
    for document in found.values():
        assert document["metadata"]["namespace"] == "team-w"
        labels = document["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "llm-serving" and labels["app.kubernetes.io/instance"] == "chat"
    selected = found[("Service", "chat-engine")]["spec"]["selector"]
    assert selected.items() <= engine_pods["spec"]["template"]["metadata"]["labels"].items()


@needs_engine
def test_llm_serving_takes_replicas_image_and_resources_from_the_values(engine):
    gpu = {"limits": {"nvidia.com/gpu": 1}}
    found = objects(render(engine, "llm-serving", {
        "engine": {"replicaCount": 3, "image": {"tag": "v0.9.0"}, "resources": gpu},
        "router": {"replicaCount": 2}}))
    engine_pods = found[("Deployment", "chat-engine")]
    [serving] = containers(engine_pods)
    assert engine_pods["spec"]["replicas"] == 3 and found[("Deployment", "chat-router")]["spec"]["replicas"] == 2
    assert serving["image"] == "vllm/vllm-openai:v0.9.0" and serving["resources"] == gpu


@needs_engine
def test_what_the_engine_returns_besides_manifests(engine):
    """NOTES.txt is rendered and returned; a template turned off is there, blank (its file's last newline);
    partials are not."""
    off = render(engine, "llm-serving")
    assert set(off.manifests) == {f"llm-serving/templates/{name}" for name in (
        "NOTES.txt", "engine-deployment.yaml", "engine-hpa.yaml", "engine-service.yaml", "router-deployment.yaml",
        "router-service.yaml")}
    assert off.manifests["llm-serving/templates/engine-hpa.yaml"] == "\n"
    assert "kubectl -n team-w port-forward svc/chat-router 8001" in off.manifests["llm-serving/templates/NOTES.txt"]
    on = objects(render(engine, "llm-serving", {"engine": {"autoscaling": {"enabled": True}}}))
    assert on[("HorizontalPodAutoscaler", "chat-engine")]["spec"]["scaleTargetRef"]["name"] == "chat-engine"


@needs_engine
@pytest.mark.parametrize(("values", "said"), [
    ({"engine": {"replicaCount": -1}}, "at '/engine/replicaCount': minimum: got -1, want 0"),
    ({"engine": {"replicaCount": "two"}}, "at '/engine/replicaCount': got string, want integer"),
    ({"engine": {"model": 3}}, "at '/engine/model': got number, want string"),
    # null removes a key from the chart's defaults (Helm's merge), so the schema finds it missing
    ({"engine": {"model": None}}, "at '/engine': missing property 'model'"),
])
def test_llm_servings_schema_refuses_values_before_rendering(engine, values, said):
    rendered = render(engine, "llm-serving", values)
    assert rendered.failure == "render" and rendered.manifests is None
    assert "llm-serving" in rendered.message and said in rendered.message, rendered.message


@needs_engine
def test_batch_tools_renders_its_hook_cronjob_daemonset_job_deployment_and_sweep(engine):
    rendered = render(engine, "batch-tools")
    found = objects(rendered)
    assert set(found) == {("Job", "chat-migrate"), ("CronJob", "chat-sweep"), ("DaemonSet", "chat-agent"),
                          ("Job", "chat-seed"), ("Deployment", "chat-api"), ("Sweep", "chat-nightly")}
    # the hook is returned as one more template: only its annotations say it runs before install and upgrade
    assert "batch-tools/templates/hook-job.yaml" in rendered.manifests
    hook = found[("Job", "chat-migrate")]["metadata"]["annotations"]
    assert hook["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert hook["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    sweep = found[("CronJob", "chat-sweep")]["spec"]
    assert (sweep["schedule"], sweep["concurrencyPolicy"]) == ("0 3 * * *", "Forbid")
    assert found[("Sweep", "chat-nightly")]["apiVersion"] == "tools.example.com/v1"
    assert found[("Sweep", "chat-nightly")]["spec"] == {"size": 3}
    images = {c["image"] for (kind, _), document in found.items() if kind != "Sweep" for c in containers(document)}
    assert images and all(i.startswith(("docker.io/library/", "ghcr.io/")) for i in images)
    # the CRD is not rendered: crds/ holds no templates, and the engine returns none of it
    assert not any("crds/" in path for path in rendered.manifests)
    assert ("CustomResourceDefinition", "sweeps.tools.example.com") not in found


@needs_engine
def test_the_library_subcharts_labels_are_on_every_object_and_it_renders_nothing_itself(engine):
    rendered = render(engine, "batch-tools", {"sweep": {"schedule": "*/5 * * * *"}})
    assert not any("common-lib" in path for path in rendered.manifests)
    found = objects(rendered)
    assert found[("CronJob", "chat-sweep")]["spec"]["schedule"] == "*/5 * * * *"
    for (kind, name), document in found.items():
        labels = document["metadata"]["labels"]
        assert labels["common-lib.example.com/labelled-by"] == "common-lib", (kind, name)
        assert labels["helm.sh/chart"] == "batch-tools-1.2.0" and labels["app.kubernetes.io/instance"] == "chat"
        if kind != "Sweep":
            pod = document["spec"]["jobTemplate"]["spec"] if kind == "CronJob" else document["spec"]
            assert pod["template"]["metadata"]["labels"] == labels


@needs_engine
def test_lookup_finds_nothing_when_rendering_and_says_nothing(engine):
    """What easel must flag: the chart asks the live cluster, the render quietly takes the path of "not there"."""
    assert "lookup" in (CHARTS / "tools-with-lookup/templates/configmap.yaml").read_text()
    found = objects(render(engine, "tools-with-lookup"))
    assert found[("ConfigMap", "chat-settings")]["data"] == {"password-source": "generated"}


@needs_engine
@pytest.mark.slow  # waits out a one-second deadline, then starts a second worker
def test_the_runaway_chart_is_stopped_at_the_deadline():
    _, _, data = pack_folder(CHARTS / "runaway")
    with helm.Engine(deadline=1.0) as engine:
        rendered = engine.render(helm.RenderRequest(data))
        assert rendered.failure == "timeout" and rendered.manifests is None, rendered
        assert render(engine, "tools-with-lookup").failure is None


# --- where charts come from ---------------------------------------------------------------------------------------

def _get(url: str, accept: str | None = None) -> tuple[bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read(), dict(response.headers)


def _helm_pull(tmp_path: Path, *args: str) -> bytes:
    """What Helm's own client (the engine's SDK) downloads, in a process of its own (easel's never loads it);
    a quarter of a second."""
    script = ("import sys, helm_python\n"
              "ref, repo, version = sys.argv[1:4]\n"
              "helm_python.pull(ref, repo_url=repo or None, version=version, destination=sys.argv[4],"
              " plain_http=ref.startswith('oci://'))\n")
    out = tmp_path / "pulled"
    out.mkdir()
    run = subprocess.run([sys.executable, "-c", script, *args, str(out)], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    [archive] = out.iterdir()
    return archive.read_bytes()


def test_the_http_repository_serves_an_index_whose_digests_are_the_archives(tmp_path):
    packed = {folder: pack_folder(CHARTS / folder) for folder in ("llm-serving", "batch-tools")}
    with http_helm_repository(tmp_path / "repo", {name: data for name, _, data in packed.values()}) as url:
        index = yaml.safe_load(_get(f"{url}/index.yaml")[0])
        assert index["apiVersion"] == "v1" and set(index["entries"]) == {"llm-serving", "batch-tools"}
        for name, version, data in packed.values():
            [entry] = index["entries"][name]
            assert (entry["name"], entry["version"], entry["apiVersion"]) == (name, version, "v2")
            assert entry["urls"] == [f"{name}-{version}.tgz"] and isinstance(entry["created"], str)
            served = _get(f"{url}/{entry['urls'][0]}")[0]
            assert served == data and entry["digest"] == sha256(served)
        assert index["entries"]["batch-tools"][0]["dependencies"][0]["name"] == "common-lib"


@needs_engine
def test_helms_own_client_pulls_from_the_http_repository(tmp_path):
    name, version, data = pack_folder(CHARTS / "llm-serving")
    with http_helm_repository(tmp_path / "repo", {name: data}) as url:
        assert _helm_pull(tmp_path, name, url, version) == data


def test_a_chart_pushed_to_the_registry_is_pulled_back_as_a_helm_chart(tmp_path):
    name, version, data = pack_folder(CHARTS / "batch-tools")
    with oci_registry(tmp_path) as registry:
        digest = push_chart(registry, "charts", name, version, data)
        base = f"http://{registry}/v2/charts/{name}"
        body, headers = _get(f"{base}/manifests/{version}", MANIFEST_TYPE)
        assert headers["Docker-Content-Digest"] == digest == f"sha256:{sha256(body)}"
        manifest = json.loads(body)
        assert manifest["config"]["mediaType"] == HELM_CONFIG_TYPE
        [layer] = manifest["layers"]
        assert layer["mediaType"] == HELM_CONTENT_TYPE and layer["digest"] == f"sha256:{sha256(data)}"
        assert _get(f"{base}/blobs/{layer['digest']}")[0] == data
        config = json.loads(_get(f"{base}/blobs/{manifest['config']['digest']}")[0])
        assert (config["name"], config["version"], config["apiVersion"]) == (name, version, "v2")
        assert json.loads(_get(f"{base.rsplit('/', 1)[0]}/{name}/tags/list")[0])["tags"] == [version]


@needs_engine
def test_helms_own_client_pulls_the_pushed_chart(tmp_path):
    name, version, data = pack_folder(CHARTS / "llm-serving")
    with oci_registry(tmp_path) as registry:
        push_chart(registry, "charts", name, version, data)
        assert _helm_pull(tmp_path, f"oci://{registry}/charts/{name}", "", version) == data
