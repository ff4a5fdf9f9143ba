"""DRA needs Kubernetes 1.34 (SPEC §2): easel writes resource.k8s.io/v1 claims, which no older cluster serves.

`gpu.allocation: dra` (said, or derived from devices imported from ResourceSlices) on an older cluster is E606,
reported once per cluster where its Kubernetes version is said: the Cluster's `kubernetesVersion`, or its
cluster profile's kubernetes layer. A cluster whose version is unknown is left alone.
"""

from __future__ import annotations

from builders import cluster_file, docs
from scenario import TEAM_IN_DEV, codes, compile_files, one_component_app

DRA_GPUS = ("{name: n, facts: {gpus: [{product: NVIDIA-A100-SXM4-80GB, memory: 80Gi, count: 4, "
            "dra: {driver: gpu.nvidia.com, productName: NVIDIA A100-SXM4-80GB}}]}}")
PLUGIN_GPUS = "{name: n, facts: {gpus: [{product: NVIDIA-A100-SXM4-80GB, memory: 80Gi, count: 4}]}}"
APP = one_component_app("""    - name: web
      type: webservice
      properties: {image: registry.example.com/app:1}
      traits:
        - {type: gpu, properties: {count: 1}}""")


def _profile(k8s: str | None) -> dict[str, str]:
    layer = f'\n    - {{type: kubernetes, name: kubernetes, version: "{k8s}"}}' if k8s else ""
    return {"profiles/cluster-profile.yaml": docs(f"""
kind: ClusterProfile
metadata: {{name: gpu}}
spec:
  version: "1.0.0"
  layers:
    - {{type: os, name: ubuntu, version: "24.04"}}{layer}
""")}


def _palette(name: str, allocation: str | None = "dra", devices: str = PLUGIN_GPUS) -> dict[str, str]:
    spec = 'clusterProfile: {name: gpu, version: "1.0.0"}' + (f"\ngpu: {{allocation: {allocation}}}" if allocation
                                                             else "")
    return cluster_file(name, k8s=None, source="palette", spec=spec, devices=[devices])


def _e606(result) -> list:
    return [d for d in result.diagnostics if d.code == "E606"]


def test_dra_said_on_a_byoc_cluster_older_than_1_34_is_an_error_at_its_kubernetes_version():
    files = {**TEAM_IN_DEV, **APP,
             **cluster_file("old", k8s="1.33.4", spec="gpu: {allocation: dra}", devices=[PLUGIN_GPUS])}
    result = compile_files(files)
    assert codes(result) == ["E606"], [d.text for d in result.diagnostics]
    [problem] = _e606(result)
    assert problem.location.file == "clusters/old.yaml"
    assert problem.location.path == ("spec", "kubernetesVersion")
    assert "'old'" in problem.text and "1.33.4" in problem.text and "gpu.allocation: dra" in problem.text
    assert "upgrade the cluster" in problem.hint and "gpu.allocation: device-plugin" in problem.hint
    assert [n.location.path for n in problem.notes] == [("spec", "gpu", "allocation")]
    assert result.files is None  # nothing written: no v1 claims for a cluster that cannot serve them


def test_dra_derived_from_resourceslices_on_an_old_cluster_is_the_same_error():
    files = {**TEAM_IN_DEV, **APP, **cluster_file("old", k8s="1.32.0", devices=[DRA_GPUS])}
    [problem] = _e606(compile_files(files))
    assert "imported from ResourceSlices" in problem.text and not problem.notes


def test_on_a_palette_cluster_it_is_reported_at_the_cluster_profiles_kubernetes_layer_once_per_cluster():
    files = {**TEAM_IN_DEV, **APP, **_profile("1.33.1"), **_palette("a"), **_palette("b"),
             **_palette("c", allocation=None)}
    problems = _e606(compile_files(files))
    assert sorted(p.text.split("'")[1] for p in problems) == ["a", "b"]  # c allocates through the device plugin
    for problem in problems:
        assert problem.location.file == "profiles/cluster-profile.yaml"
        assert problem.location.path == ("spec", "layers", 1, "version")


def test_dra_on_kubernetes_1_34_and_the_device_plugin_on_older_ones_are_fine():
    files = {**TEAM_IN_DEV, **APP,
             **cluster_file("new", k8s="1.34.0", spec="gpu: {allocation: dra}", devices=[DRA_GPUS]),
             **cluster_file("old", k8s="1.29.0", spec="gpu: {allocation: device-plugin}", devices=[PLUGIN_GPUS])}
    result = compile_files(files)
    assert codes(result) == [], [d.text for d in result.diagnostics]


def test_a_cluster_whose_kubernetes_version_is_unknown_is_left_alone():
    """Its cluster profile has no kubernetes layer: easel cannot tell, and says nothing (placement already keeps
    off it any workload that requires a Kubernetes version)."""
    files = {**TEAM_IN_DEV, **APP, **_profile(None), **_palette("a", devices=DRA_GPUS)}
    result = compile_files(files)
    assert _e606(result) == [] and codes(result) == [], [d.text for d in result.diagnostics]
