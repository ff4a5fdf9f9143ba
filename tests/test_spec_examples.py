"""The examples of SPEC §2, as written there, make a repository that compiles to what the spec implies."""

from __future__ import annotations

import yaml
from conftest import easel, write_files

SPEC_EXAMPLES = {
    "easel.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: Settings
        spec:
          inputs: [profiles, environments, clusters, workloads]
          output: output
          gitops:
            engine: flux
            interval: 10m
            repoURL: https://git.example.com/platform/fleet.git
            branch: main
          parameters: {}
    """,
    "profiles/repositories.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: Repository
        metadata: {name: nvidia}
        spec:
          type: helm
          url: https://helm.ngc.nvidia.com/nvidia
          secretRef: ngc-pull
        ---
        apiVersion: easel.dev/v1alpha1
        kind: Repository
        metadata: {name: vllm}
        spec: {type: helm, url: https://vllm-project.github.io/production-stack}
        ---
        apiVersion: easel.dev/v1alpha1
        kind: Repository
        metadata: {name: litellm}
        spec: {type: oci, url: oci://ghcr.io/berriai}
    """,
    # SPEC §2 WorkloadProfile, verbatim
    "profiles/llm-serving/1.3.0.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: WorkloadProfile
        metadata: {name: llm-serving, description: vLLM inference server with an OpenAI-compatible gateway}
        spec:
          version: 1.3.0                    # semantic version
          type: Model                       # Application | Model | Infrastructure
          parameters:                       # what a Workload may set: JSON Schema properties, with defaults
            model: {type: string}
            gpus: {type: integer, minimum: 1, default: 1}
            gpuProduct: {type: string, default: NVIDIA-L40S}
          requires:                         # what a cluster must offer (checked at placement)
            kubernetes: ">=1.28"
            profiles:                       # infrastructure stacks needed on the same cluster
              - {name: gpu-operator, version: ">=24.3 <25"}
          components:
            - name: server
              type: helm-chart
              properties:
                repository: vllm
                chart: vllm-stack
                version: 0.1.7
                target: {kind: Deployment, name: ".*-deployment-vllm"}   # trait patches go to the engine ...
                container: vllm                                          # ... and its container
                traitValues: {replicas.count: "servingEngineSpec.modelSpec[0].replicaCount"}
                values:
                  servingEngineSpec:
                    modelSpec: [{name: main, modelURL: "{{ params.model }}"}]
              traits:
                - type: gpu
                  properties: {count: "{{ params.gpus }}", product: "{{ params.gpuProduct }}"}
                - type: resources
                  properties: {memory: 64Gi}
            - name: gateway
              type: helm-chart
              dependsOn: [server]           # Flux dependsOn / Argo CD sync waves
              properties: {repository: litellm, chart: litellm-helm, version: 0.1.640}
    """,
    "profiles/llm-serving/1.2.0.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: WorkloadProfile
        metadata: {name: llm-serving}
        spec:
          version: 1.2.0
          parameters:
            model: {type: string}
            gpus: {type: integer, minimum: 1, default: 1}
          components:
            - name: server
              type: helm-chart
              properties: {repository: vllm, chart: vllm-stack, version: 0.1.5}
    """,
    "profiles/gpu-operator/24.6.0.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: WorkloadProfile
        metadata: {name: gpu-operator}
        spec:
          version: 24.6.0
          type: Infrastructure
          components:
            - name: operator
              type: helm-chart
              properties: {repository: nvidia, chart: gpu-operator, version: v24.6.0}
    """,
    "profiles/clearml/1.3.0.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: WorkloadProfile
        metadata: {name: clearml}
        spec:
          version: 1.3.0
          components:
            - name: server
              type: helm-chart
              properties: {repository: vllm, chart: clearml, version: 7.14.4}
    """,
    # SPEC §2 ClusterProfile, verbatim
    "profiles/cluster-profiles/edge-gpu.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: ClusterProfile
        metadata: {name: edge-gpu}
        spec:
          version: 2.1.0
          layers:                           # what Palette installs and manages (core infrastructure)
            - {type: os, name: ubuntu, version: "22.04"}
            - {type: kubernetes, name: pxk-e, version: 1.30.5}
            - {type: cni, name: cilium, version: 1.15.6}
            - {type: csi, name: longhorn, version: 1.6.2}
            - {type: addon, name: gpu-operator, version: 24.6.1}    # satisfies `requires.profiles: gpu-operator`
    """,
    # SPEC §2 Cluster and Device, verbatim (kubernetesVersion is the byoc form; the spec shows both fields)
    "clusters/edge-east-1.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: Cluster
        metadata:
          name: edge-east-1
          labels: {region: us-east, tier: prod}
        spec:
          source: palette                  # palette (provisioned by Palette) | byoc (enrolled, brownfield)
          clusterProfile: {name: edge-gpu, version: 2.1.0}   # palette clusters
          gitops: {engine: argocd}         # optional override of easel.yaml
          taints: [{key: maintenance, effect: NoSelect}]     # only environments that tolerate it place here
        ---
        apiVersion: easel.dev/v1alpha1
        kind: Device
        metadata: {name: edge-east-1-gpu-03}
        spec:
          cluster: edge-east-1
          role: worker                     # controlPlane | worker
          state: ready                     # ready | cordoned | unhealthy : only ready devices count
          facts:                           # as gathered by Palette (or imported from node labels)
            arch: amd64
            cpu: {cores: 64}
            memory: 512Gi
            gpus: [{product: NVIDIA-A100-SXM4-80GB, memory: 80Gi, count: 4}]
            nics: [{name: eth0, speed: 100Gbps}]
          tags:                            # manual key tags: fill in or correct what could not be gathered
            gpu.product: NVIDIA-A100-SXM4-80GB
    """,
    "clusters/west-1.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: Cluster
        metadata:
          name: west-1
          labels: {region: us-west, tier: prod}
        spec:
          source: byoc
          kubernetesVersion: 1.29.4
          devices:
            - name: west-1-gpu-01
              facts: {arch: amd64, gpus: [{product: NVIDIA-A100-SXM4-80GB, memory: 80Gi, count: 8}]}
    """,
    # SPEC §2 Project and Environment, verbatim
    "environments/projects.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: Project
        metadata: {name: vision}
        spec:
          quota:
            gpus: 16                       # across the fleet, all of the project's workloads together
            gpusByProduct: {NVIDIA-A100-SXM4-80GB: 8}
          parameters: {}                   # project parameter defaults and locks (§4)
        ---
        apiVersion: easel.dev/v1alpha1
        kind: Project
        metadata: {name: nlp}
        spec:
          quota: {gpus: 16}
    """,
    "environments/gpu-prod.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: Environment
        metadata: {name: gpu-prod}
        spec:
          projects: [vision, nlp]          # who may deploy here; [] or omitted = nobody; ["*"] = every project
          placement:
            clusterSelector:               # Kubernetes label selector over cluster labels and derived labels
              matchLabels: {tier: prod}
              matchExpressions: [{key: region, operator: In, values: [us-east, us-west]}]
            numberOfClusters: 2            # omitted = every eligible cluster
            prioritizers: [{name: MostFreeGPU, weight: 2}, {name: LeastWorkloads, weight: 1}]
            tolerations: [{key: maintenance, operator: Exists}]
          namespace:
            strategy: workload             # project (one namespace per project) | workload (<project>-<workload>)
            quota: {requests.nvidia.com/gpu: "8", limits.memory: 512Gi}     # a ResourceQuota per namespace
            isolation: strict              # strict = default-deny NetworkPolicy, ingress from its own namespace only
          defaults:
            parameters: {gpuProduct: NVIDIA-A100-SXM4-80GB}
            traits: [{type: security-context, properties: {runAsNonRoot: true}}]   # added to every component
          policy:
            allowedProfiles: [{name: llm-serving, versions: ">=1.2 <2"}, {name: clearml}]
            maxGPUsPerWorkload: 8
            requiredTraits: [security-context]
            allowedRegistries: [registry.internal.example.com]
          rollout:
            strategy: progressive          # all | progressive
            waves:                         # each wave a label selector, or a share of the placed clusters
              - {name: canary, clusterSelector: {matchLabels: {canary: "true"}}}
              - {name: half, percent: 50}
              - {name: rest, percent: 100}
    """,
    # SPEC §2 Workload, verbatim
    "workloads/nlp/support-bot.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: Workload
        metadata: {name: support-bot}
        spec:
          project: nlp
          environment: gpu-prod
          profile: {name: llm-serving, version: "^1.2"}     # a semver range; the highest allowed version wins
                                                           # npm/Helm style: "1.2.0" (exactly), "^1.2", "~1.3",
                                                           # ">=1.2 <2", "1.x", "*"
          parameters: {model: meta-llama/Llama-3.1-8B-Instruct, gpus: 2}
          traits:                                          # optional additions per component
            server: [{type: replicas, properties: {count: 2}}]
    """,
}


def test_the_spec_examples_compile_to_what_the_spec_implies(tmp_path):
    write_files(tmp_path, SPEC_EXAMPLES)
    run = easel("compile", cwd=tmp_path)
    assert run.code == 0, run.text
    report = yaml.safe_load(easel("explain", "nlp/support-bot", "--format", "json", cwd=tmp_path).out)
    assert report["profile"]["resolved"] == "1.3.0"  # "^1.2" within ">=1.2 <2"
    assert {p["name"]: (p["value"], p["layer"]) for p in report["parameters"]} == {
        "gpuProduct": ("NVIDIA-A100-SXM4-80GB", "environment"), "gpus": (2, "workload"),
        "model": ("meta-llama/Llama-3.1-8B-Instruct", "workload")}
    chosen = {c["cluster"]: c["gpus"] for c in report["placement"]["clusters"] if c["verdict"] == "chosen"}
    # numberOfClusters 2; the tainted edge-east-1 is tolerated; 2 GPUs × 2 replicas of A100 on each, both pods
    # packed on the one device that has them
    assert chosen == {
        "edge-east-1": [{"component": "server", "product": "NVIDIA-A100-SXM4-80GB", "count": 4,
                         "devices": [{"device": "edge-east-1-gpu-03", "count": 4}]}],
        "west-1": [{"component": "server", "product": "NVIDIA-A100-SXM4-80GB", "count": 4,
                    "devices": [{"device": "west-1-gpu-01", "count": 4}]}]}
    out = tmp_path / "output" / "clusters"
    # edge-east-1 is an Argo CD cluster, west-1 a Flux one (the easel.yaml default)
    assert (out / "edge-east-1" / "apps").is_dir()
    release = yaml.safe_load((out / "west-1/workloads/nlp/support-bot/server/objects.yaml").read_text())
    assert release["kind"] == "HelmRelease"
    assert release["spec"]["values"]["servingEngineSpec"]["modelSpec"][0]["modelURL"] == \
        "meta-llama/Llama-3.1-8B-Instruct"
    gateway = yaml.safe_load((out / "west-1/workloads/nlp/support-bot/gateway/objects.yaml").read_text())
    # west-1 is BYOC: the gpu-operator stack the profile requires is deployed there, and waited for
    assert gateway["spec"]["dependsOn"] == [{"name": "support-bot-server"},
                                            {"name": "gpu-operator-operator", "namespace": "gpu-operator"}]
    assert (out / "west-1/infrastructure/gpu-operator/operator/objects.yaml").is_file()
    assert not (out / "edge-east-1/infrastructure").exists()  # its cluster profile provides gpu-operator 24.6.1
    assert gateway["spec"]["chartRef"]["kind"] == "OCIRepository"
    # the engine's Deployment and its vllm container get what was booked: 2 GPUs per replica, 2 replicas (values)
    assert "W103" not in run.err
    patches = release["spec"]["postRenderers"][0]["kustomize"]["patches"]
    [entry] = [p for p in patches if p["target"] == {"kind": "Deployment", "name": ".*-deployment-vllm"}]
    for other in patches:  # what is for every pod (the router's too) goes to every Deployment and StatefulSet
        assert other is entry or ("name" not in other["target"] and "containers" not in other["patch"])
    pod = yaml.safe_load(entry["patch"])["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
    [container] = pod["containers"]
    assert container["name"] == "vllm"
    assert container["resources"]["limits"] == {"nvidia.com/gpu": 2, "memory": "64Gi"}
    assert release["spec"]["values"]["servingEngineSpec"]["modelSpec"][0]["replicaCount"] == 2
