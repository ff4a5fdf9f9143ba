"""JSON Schemas (Draft 2020-12) of every input kind, each field with its description: the one source of what a
field means, for validation, for editors (`easel schema`, hover docs) and for docs/reference/file-formats.md.
A field's `default` is the value easel takes when a document leaves it out (validate fills it in); a mapping
whose fields have defaults defaults to `{}` when its absence means the same as an empty one.

Every object schema closes its properties (`additionalProperties: false`) so that a typo is an error. Custom
formats (quantity, semver, semver-range, duration, values-path) are checked by code (check.py), which gives
the better message; the schemas given to editors (`exported`) also carry a `pattern` for each, since editors
ignore formats they do not know.
"""

from __future__ import annotations

import copy
from typing import Any

from compiler.model import DEFAULT_RELEASE
from compiler.model.gpu import ALLOCATION_MODES
from compiler.schemas.blocks import (
    ANNOTATIONS,
    API_VERSION,
    COUNT,
    DIALECT,
    DNS_LABEL,
    DURATION,
    DURATION_PATTERN,
    FREE_OBJECT,
    LABEL_KEY,
    LABELS,
    NAME,
    NAMESPACE_NAME,
    NONEMPTY,
    PARAMETER_LAYER,
    PARAMETER_NAME,
    POD_TEMPLATE_PATHS,
    QUANTITY,
    RANGE,
    SCHEMA_BASE,
    SEMVER,
    STRING,
    array,
    described,
    obj,
)
from compiler.schemas.fleet import CLUSTER_GITOPS, CLUSTER_REGISTRY, DEVICE_BODY, ENVIRONMENT_GITOPS, SETTINGS_RENDER

# internal, on the schema of each use of a trait or component ("trait" | "component"): where the schemas editors
# get check its `properties` by its `type` (editors.by_type); never in exported schemas
USES_MARKER = "x-easel-uses"

METADATA = obj({
    "name": described(NAME, "The document's name: a DNS-1123 label (lowercase letters, digits and `-`, at most "
                            "63 characters)."),
    "labels": described(LABELS, "Kubernetes-style labels; on a Cluster, what environments' selectors match."),
    "annotations": described(ANNOTATIONS, "Free-form annotations, for people and tools; easel ignores them."),
    "description": described(STRING, "What this document is, in a sentence."),
}, ["name"])

LABEL_SELECTOR = obj({
    "matchLabels": described(LABELS, "Labels a cluster must carry, each with this value."),
    "matchExpressions": described(array(obj({
        "key": described({"type": "string", "pattern": LABEL_KEY}, "The label key."),
        "operator": described({"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                              "How the label's value is compared with `values`."),
        "values": described(array({"type": "string"}), "The values for `In` and `NotIn`."),
    }, ["key", "operator"])), "Label requirements that must all hold, as in a Kubernetes label selector."),
})

TAINT_EFFECTS = ["NoSelect", "PreferNoSelect", "NoSelectIfNew"]
TAINT = obj({
    "key": described({"type": "string", "pattern": LABEL_KEY}, "The taint's key."),
    "value": described(STRING, "The taint's value (optional)."),
    "effect": described({"enum": TAINT_EFFECTS}, "NoSelect: only tolerating environments place here; "
                        "NoSelectIfNew: keeps what runs here, admits nothing new; PreferNoSelect: excludes nothing."),
}, ["key", "effect"])

TOLERATION = obj({
    "key": described({"type": "string", "pattern": LABEL_KEY},
                     "The taint key tolerated (omitted with `Exists`: every taint)."),
    "operator": described({"enum": ["Equal", "Exists"], "default": "Equal"},
                          "Equal matches the taint's value; Exists any value."),
    "value": described(STRING, "The taint value tolerated (with `Equal`)."),
    "effect": described({"enum": TAINT_EFFECTS}, "The taint effect tolerated (omitted: every effect)."),
})

TRAIT_USE = obj({
    "type": described(NAME, "The trait: a built-in one (gpu, resources, replicas, ...) or a TraitDefinition's name."),
    "properties": described(FREE_OBJECT, "The trait's properties, checked against its definition's parameters."),
}, ["type"], **{USES_MARKER: "trait"})

PARAMETER_DECLARATIONS = {"type": "object", "propertyNames": {"pattern": PARAMETER_NAME},
                          "additionalProperties": {"type": "object"}}

POD_SECURITY_LEVELS = ("privileged", "baseline", "restricted")

# no `default` keywords: a component's release options fall back to its environment's `defaults.release`, and
# only then to DEFAULT_RELEASE (what the descriptions name), which decide applies
RELEASE_OPTIONS = obj({
    "timeout": described({"type": "string", "pattern": DURATION_PATTERN, "examples": ["10m", "1h30m"]},
                         "Flux: how long a Helm install or upgrade may take (Flux's default: 5m)."),
    "retries": described({"type": "integer", "minimum": 0, "maximum": 100},
                         f"Flux: install and upgrade remediation retries (default {DEFAULT_RELEASE.retries})."),
    "syncRetries": described({"type": "integer", "minimum": 0, "maximum": 100},
                             "Argo CD: how often a failed sync is retried, backing off from 5s to 3m "
                             f"(default {DEFAULT_RELEASE.sync_retries})."),
    "crds": described({"enum": ["Skip", "Create", "CreateReplace"]},
                      f"Flux: what a Helm upgrade does with the chart's CRDs (default {DEFAULT_RELEASE.crds})."),
    "driftDetection": described({"enum": ["enabled", "warn", "disabled"]}, "Flux: HelmRelease drift detection."),
    "syncOptions": array({"type": "string", "pattern": r"^[A-Za-z]+=[A-Za-z0-9-]+$"},
                         description=f"Argo CD sync options (default [{', '.join(DEFAULT_RELEASE.sync_options)}])."),
})

# API groups of CustomResourceDefinitions (`monitoring.coreos.com`): what a chart, a cluster-profile layer or a
# cluster installs, so that custom resources are applied only after their CRD
API_GROUPS = array({"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$",
                    "examples": ["monitoring.coreos.com", "ray.io"]})

DEFINITION_SPEC = obj({
    "description": described(STRING, "What the definition does, in a sentence."),
    "parameters": described({"type": "object"}, "A JSON Schema of the properties, or a map of property name to "
                            "schema (then a property without a default is required)."),
    "template": described(NONEMPTY, "The Jinja2 template (sandboxed) that renders the definition's output."),
}, ["template"])
COMPONENT_DEFINITION_SPEC = {**DEFINITION_SPEC, "properties": {
    **DEFINITION_SPEC["properties"],
    "template": described(NONEMPTY, "The Jinja2 template (sandboxed) that renders Kubernetes objects: a YAML list, "
                                    "or documents separated by `---`."),
    "podTemplates": POD_TEMPLATE_PATHS,
}}
TRAIT_DEFINITION_SPEC = {**DEFINITION_SPEC, "properties": {
    **DEFINITION_SPEC["properties"],
    "template": described(NONEMPTY, "The Jinja2 template (sandboxed) that renders `patches` "
                                    "(`{target: {kind, name}, patch}`) and/or `objects`."),
}}

SETTINGS = obj({
    "inputs": described(array({"type": "string", "minLength": 1}), "The folders read, relative to the root.",
                        default=["profiles", "environments", "clusters", "workloads"]),
    "output": described({"type": "string", "minLength": 1}, "The folder the compiled trees are written to.",
                        default="output"),
    "gitops": described(obj({
        "engine": described({"enum": ["flux", "argocd"], "default": "flux"},
                            "The GitOps engine of clusters that do not say."),
        "interval": described(DURATION, "The reconcile interval written into generated objects.", default="10m"),
        "render": SETTINGS_RENDER,
        "repoURL": described(NONEMPTY, "Where output/ is published (the bootstrap objects' source).",
                             default="https://git.example.com/platform/fleet.git"),
        "branch": described(NONEMPTY, "The branch of repoURL the clusters follow.", default="main"),
        "secretRef": described(NAME, (
            "The name of the Secret in flux-system with which Flux reads repoURL (or the OCI artifacts); never "
            "credentials themselves. Argo CD finds its repository credentials by the URL instead.")),
        # git: clusters follow the rendered repository; oci: each its own artifact (`easel publish --oci`)
        "delivery": described({"enum": ["git", "oci"], "default": "git"},
                              "What clusters follow: git (repoURL), or oci (each cluster its own OCI artifact)."),
        "oci": described(obj({
            "repository": described(
                {"type": "string", "pattern": r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+$"},
                "REGISTRY/REPO: cluster c follows oci://REGISTRY/REPO/c."),
            "tag": described({"type": "string", "pattern": r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"},
                             "The tag the clusters follow.", default="latest"),
            "insecure": described({"type": "boolean"}, "The registry speaks plain HTTP.", default=False),
        }, ["repository"]), "The OCI repository of `delivery: oci` (required then)."),
    }, allOf=[{"if": {"properties": {"delivery": {"const": "oci"}}, "required": ["delivery"]},
               "then": {"required": ["oci"]}}]), "How the clusters' GitOps engines get the output.", default={}),
    "charts": described(obj({
        "path": described({"type": "string", "minLength": 1, "default": "charts"}, (
            "Where `easel charts pull` keeps chart archives (`<path>/<repository>/<chart>-<version>.tgz`, "
            "committed), relative to the repository's root.")),
        "commit": described({"type": "boolean", "default": True}, (
            "Whether the archives are committed under `path` (false: kept in easel's cache, .easel-cache/charts; "
            "easel.lock pins their digests either way).")),
        "proof": described({"enum": ["warn", "required"], "default": "warn"},
                           "What a chart easel has not rendered and proven is: a warning, or an error."),
    }), "Helm charts: where their archives are kept, and how far easel vouches for them.", default={}),
    "parameters": described(FREE_OBJECT, "System-wide parameter defaults, the lowest layer: " + PARAMETER_LAYER + "."),
})

SPECS: dict[str, dict[str, Any]] = {
    "Settings": SETTINGS,
    "Repository": obj({
        "type": described({"enum": ["helm", "oci", "git"]}, "The kind of repository: helm (an http(s) chart index), "
                                                            "oci (an OCI registry) or git."),
        "url": described(NONEMPTY, "The repository's URL (https:// for helm, oci:// for oci)."),
        "secretRef": described(NAME, "The name of a Secret on the cluster with the credentials (never credentials "
                                     "themselves)."),
        "ref": described(obj({
            "branch": described({"type": "string", "minLength": 1}, "A branch: its newest commit."),
            "tag": described({"type": "string", "minLength": 1}, "A tag (e.g. v1.4.0)."),
            "commit": described({"type": "string", "pattern": "^[0-9a-f]{40}$"}, "A commit (its full SHA-1)."),
        }, minProperties=1, maxProperties=1), "Git only, and required there: the branch, tag or commit charts are "
                                              "read at (a chart component then names its `path`)."),
    }, ["type", "url"], allOf=[{"if": {"properties": {"type": {"const": "git"}}},
                                "then": {"required": ["ref"]}, "else": {"not": {"required": ["ref"]}}}]),
    "ComponentDefinition": COMPONENT_DEFINITION_SPEC,
    "TraitDefinition": TRAIT_DEFINITION_SPEC,
    "WorkloadProfile": obj({
        "version": described(SEMVER, "This version of the profile: a semantic version (MAJOR.MINOR.PATCH)."),
        "type": described({"enum": ["Application", "Model", "Infrastructure"], "default": "Application"},
                          "What the stack is."),
        "parameters": described(PARAMETER_DECLARATIONS, "What a Workload may set: a JSON Schema per parameter, with "
                                                        "its default (without one, some layer must set it)."),
        "requires": described(obj({
            "kubernetes": described(RANGE, "The Kubernetes versions a cluster must run (e.g. \">=1.28\")."),
            "arch": described({"type": "string", "pattern": "^[a-z0-9]+$", "examples": ["amd64", "arm64"]},
                              "The CPU architecture the GPUs must sit on (default: any)."),
            "profiles": described(array(obj({
                "name": described(NAME, "The infrastructure profile needed."),
                "version": described(RANGE, "Its versions, a semver range.", default="*"),
            }, ["name"])), "Infrastructure stacks needed on the same cluster (deployed unless the cluster profile "
                           "provides them)."),
        }), "What a cluster must offer (checked at placement)."),
        "components": described(array(obj({
            "name": described(NAME, "The component's name, unique in the profile."),
            "type": described(NAME, "Its definition: helm-chart, manifests, kustomize, webservice, or a "
                                    "ComponentDefinition's name."),
            "properties": described(FREE_OBJECT, "The definition's properties; `{{ params.x }}` fills in a "
                                                 "parameter."),
            "traits": described(array(TRAIT_USE), "Traits applied to the component."),
            "dependsOn": described(array(NAME), "Components of this profile applied before this one."),
            "release": described(RELEASE_OPTIONS, "How the GitOps engine releases it (over the environment's "
                                                  "defaults.release)."),
        }, ["name", "type"], **{USES_MARKER: "component"}), minItems=1), "The stack's components, at least one."),
    }, ["version", "components"]),
    "ClusterProfile": obj({
        "version": described(SEMVER, "This version of the cluster profile: a semantic version."),
        "layers": described(array(obj({
            "type": described({"enum": ["os", "kubernetes", "cni", "csi", "addon"]}, "What the layer is."),
            "name": described(NONEMPTY, "The layer's name; an addon satisfies a `requires.profiles` of that name."),
            "version": described({"type": "string", "minLength": 1}, "The layer's version (of a kubernetes layer: "
                                                                     "the clusters' Kubernetes version)."),
            "crds": described(API_GROUPS, "API groups whose CRDs the layer installs."),
        }, ["type", "name", "version"])), "What Palette installs and manages on the cluster (easel relies on it, "
                                          "never deploys it)."),
    }, ["version"]),
    "Cluster": obj({
        "source": described({"enum": ["palette", "byoc"]}, "Where the cluster comes from: palette (provisioned by "
                                                           "Palette) or byoc (enrolled, brownfield)."),
        "clusterProfile": described(obj({
            "name": described(NAME, "The ClusterProfile's name."),
            "version": described(SEMVER, "The ClusterProfile's version."),
        }, ["name", "version"]), "The cluster profile of a palette cluster (required then)."),
        "kubernetesVersion": described({"type": "string", "minLength": 1},
                                       "The Kubernetes version of a byoc cluster (required then), e.g. \"1.29.4\"."),
        "gitops": CLUSTER_GITOPS,
        # how pods get GPUs: device-plugin limits (GPU Feature Discovery labels), or dra (resource.k8s.io/v1
        # claims); by default dra when every GPU of its devices was imported from ResourceSlices
        "gpu": described(obj({
            "allocation": described({"enum": list(ALLOCATION_MODES)}, "Device-plugin limits or DRA claims (default: "
                                    "dra when every GPU was imported from ResourceSlices)."),
        }), "How the cluster's pods get GPUs."),
        "taints": described(array(TAINT), "Taints: only environments that tolerate them place here."),
        "crds": described(API_GROUPS, "API groups whose CRDs the cluster already has (installed outside easel)."),
        "registry": described(CLUSTER_REGISTRY, "Where the cluster's images come from: an air-gapped site's mirror, "
                                                "and the registries it may pull from."),
        "devices": described(array(obj({"name": described(NAME, "The device's name, unique in the cluster."),
                                        **DEVICE_BODY}, ["name"])),
                             "Devices listed inline: each a Device's spec without `cluster`, plus its name."),
    }, ["source"], allOf=[
        {"if": {"properties": {"source": {"const": "palette"}}, "required": ["source"]},
         "then": {"required": ["clusterProfile"]}},
        {"if": {"properties": {"source": {"const": "byoc"}}, "required": ["source"]},
         "then": {"required": ["kubernetesVersion"]}},
    ]),
    "Device": obj({"cluster": described(NAME, "The Cluster the device belongs to."), **DEVICE_BODY}, ["cluster"]),
    "Project": obj({
        "quota": described(obj({
            "gpus": described(COUNT, "GPUs across the fleet, all of the project's workloads together (default: "
                                     "no limit)."),
            "gpusByProduct": described({"type": "object", "additionalProperties": COUNT},
                                       "GPUs per product across the fleet."),
        }), "The project's GPU quota."),
        "parameters": described(FREE_OBJECT, "Project parameter defaults: " + PARAMETER_LAYER + "."),
    }),
    "Environment": obj({
        "projects": described(array({"type": "string", "anyOf": [{"pattern": DNS_LABEL, "maxLength": 63},
                                                                {"const": "*"}]}),
                              "Projects that may deploy here; [\"*\"] every project (default: none)."),
        "placement": described(obj({
            "clusterSelector": described(LABEL_SELECTOR, "Which clusters, by their labels and derived easel.dev/* "
                                                         "labels (default: every cluster)."),
            "numberOfClusters": described({"type": "integer", "minimum": 1},
                                          "How many clusters each workload gets (default: every eligible one)."),
            "prioritizers": described(array(obj({
                "name": described({"enum": ["MostFreeGPU", "LeastWorkloads", "Steady"]}, "The prioritizer."),
                "weight": described({"type": "integer", "minimum": 0, "maximum": 10}, "Its weight.", default=1),
            }, ["name"])), "How eligible clusters are ranked (default: MostFreeGPU and LeastWorkloads, weight 1)."),
            "tolerations": described(array(TOLERATION), "Cluster taints tolerated."),
            "spread": described(obj({
                "by": described({"type": "string", "pattern": LABEL_KEY}, "The cluster label spread over."),
                "maxSkew": described({"type": "integer", "minimum": 1, "default": 1},
                                     "The largest difference in clusters between two values."),
            }, ["by"]), "Balance a workload's clusters over a label's values."),
        }), "Where workloads of this environment go."),
        "namespace": described(obj({
            "strategy": described({"enum": ["project", "workload"], "default": "workload"},
                                  "One namespace per project, or per workload (<project>-<workload>)."),
            "quota": described({"type": "object", "additionalProperties": QUANTITY},
                               "A ResourceQuota per namespace (e.g. `{requests.nvidia.com/gpu: \"8\"}`)."),
            "isolation": described({"enum": ["none", "strict"], "default": "none"},
                                   "Network isolation: strict admits ingress only from the namespace itself and "
                                   "allowFrom."),
            # namespaces whose pods may reach the workloads under strict isolation (ingress controller, scrapers)
            "allowFrom": described(array(NAMESPACE_NAME), "Namespaces that may reach the workloads under strict "
                                                          "isolation (ingress controller, scrapers)."),
            "egress": described({"enum": ["open", "restricted"], "default": "open"},
                                "Egress: restricted allows only the namespace itself, DNS and egressAllow."),
            "egressAllow": described(obj({
                "cidrs": described(array({"type": "string", "pattern": r"^[0-9a-fA-F:.]+/[0-9]{1,3}$"}),
                                   "Address ranges pods may reach."),
                "namespaces": described(array(NAMESPACE_NAME), "Namespaces pods may reach."),
            }), "What pods may reach under `egress: restricted`."),
            # Pod Security admission on the namespaces easel creates: one level for every mode, or per mode
            "podSecurity": described({"anyOf": [{"enum": list(POD_SECURITY_LEVELS)}, obj({
                mode: described({"enum": list(POD_SECURITY_LEVELS)}, f"The Pod Security level to {mode}.")
                for mode in ("enforce", "warn", "audit")})]},
                "The Pod Security admission level of the namespaces easel creates, or one per mode (default: "
                "none set)."),
        }), "The namespaces easel creates for the workloads.", default={}),
        "defaults": described(obj({
            "parameters": described(FREE_OBJECT, "Environment parameter defaults: " + PARAMETER_LAYER + "."),
            "traits": described(array(TRAIT_USE), "Traits added to every component."),
            "release": described(RELEASE_OPTIONS, "Release options of every component."),
        }), "What every workload of the environment gets."),
        "policy": described(obj({
            "allowedProfiles": described(array(obj({
                "name": described(NAME, "The profile allowed."),
                "versions": described(RANGE, "Its versions allowed (default: every one)."),
            }, ["name"])), "The profiles workloads may use (default: every one)."),
            "maxGPUsPerWorkload": described(COUNT, "The most GPUs a workload may take on one cluster."),
            "requiredTraits": described(array(NAME), "Traits every component must carry."),
            "allowedRegistries": described(array(NONEMPTY), "Registries every image must come from (default: any)."),
        }), "Guardrails checked at compile time."),
        "gitops": ENVIRONMENT_GITOPS,
        "rollout": described(obj({
            "strategy": described({"enum": ["all", "progressive"], "default": "all"},
                                  "How a new version reaches the clusters: all at once, or progressive (wave by "
                                  "wave)."),
            "waves": described(array(obj({
                "name": described(NAME, "The wave's name."),
                "clusterSelector": described(LABEL_SELECTOR, "The clusters of the wave, by label."),
                "percent": described({"type": "integer", "minimum": 1, "maximum": 100},
                                     "Or a cumulative share of the placed clusters, rounded up."),
            }, ["name"])), "The waves, in order."),
        }), "How a new profile version reaches the clusters.", default={}),
    }),
    "Workload": obj({
        "project": described(NAME, "The Project (team) the workload belongs to."),
        "environment": described(NAME, "The Environment it deploys into."),
        "profile": described(obj({
            "name": described(NAME, "The WorkloadProfile's name."),
            "version": described(RANGE, "A semver range (\"^1.2\", \">=1.2 <2\"); the highest allowed version wins.",
                                 default="*"),
        }, ["name"]), "The profile and the versions asked for."),
        "parameters": described(FREE_OBJECT, "Values of the profile's parameters (the highest layer)."),
        "traits": described({"type": "object", "propertyNames": {"pattern": DNS_LABEL},
                             "additionalProperties": array(TRAIT_USE)},
                            "Extra traits per component name."),
    }, ["project", "environment", "profile"]),
}

KINDS = tuple(SPECS)
DOCUMENT_KINDS = tuple(k for k in KINDS if k != "Settings")  # what the input folders hold

KIND_DESCRIPTIONS = {
    "Settings": "easel.yaml: the input and output folders, the GitOps defaults and system-wide parameters.",
    "Repository": "Where charts come from: a Helm index, an OCI registry or a Git repository.",
    "ComponentDefinition": "A component type of your own: a Jinja2 template that renders Kubernetes objects.",
    "TraitDefinition": "A trait of your own: a Jinja2 template that renders patches and objects.",
    "WorkloadProfile": "One version of a reusable stack: parameters, requirements and components with traits.",
    "ClusterProfile": "One version of what Palette installs on a cluster (Kubernetes, CNI, CSI, add-ons).",
    "Cluster": "A cluster of the fleet: its source, labels, taints, GitOps engine and (optionally) devices.",
    "Device": "A node of a cluster: its role, state, gathered facts and manual tags.",
    "Project": "A team: its GPU quota and parameter defaults.",
    "Environment": "Where projects may deploy, and under which rules: placement, namespaces, defaults, policy, "
                   "rollout.",
    "Workload": "A team's request: a profile and version range in an environment, with parameters and traits.",
}


def document_schema(kind: str) -> dict[str, Any]:
    """The whole-document schema of a kind, standalone (for validation; `exported` for editors)."""
    settings = kind == "Settings"
    return {
        "$schema": DIALECT,
        "$id": f"{SCHEMA_BASE}{kind}.json",
        "title": kind,
        "description": KIND_DESCRIPTIONS[kind],
        **obj({
            "apiVersion": described({"const": API_VERSION}, f"Always {API_VERSION}."),
            "kind": described({"const": kind}, f"Always {kind}."),
            "metadata": described(METADATA, "The document's name, labels, annotations and description."),
            "spec": described(copy.deepcopy(SPECS[kind]), f"The {kind}'s content."),
        }, ["apiVersion", "kind"] if settings else ["apiVersion", "kind", "metadata", "spec"]),
    }
