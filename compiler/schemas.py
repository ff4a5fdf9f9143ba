"""JSON Schemas (Draft 2020-12) of every input kind. `easel schema [KIND]` prints them for editors.

Every object schema closes its properties (`additionalProperties: false`) so that a typo is an error. Custom
formats (quantity, semver, semver-range, duration) are checked by formats.py.
"""

from __future__ import annotations

import copy
from typing import Any

from .gpu import ALLOCATION_MODES, MIG_PROFILE_PATTERN

API_VERSION = "easel.dev/v1alpha1"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
LABEL_KEY = (r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
             r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$"
PARAMETER_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


def obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    schema.update(extra)
    return schema


def array(items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "array", "items": items, **extra}


NAME = {"type": "string", "pattern": DNS_LABEL, "maxLength": 63, "x-easel-name": True}
STRING = {"type": "string"}
NONEMPTY = {"type": "string", "minLength": 1}
QUANTITY = {"type": ["string", "number"], "format": "quantity"}
SEMVER = {"type": "string", "format": "semver"}
RANGE = {"type": "string", "format": "semver-range"}
DURATION = {"type": "string", "format": "duration"}
FREE_OBJECT = {"type": "object"}  # helm values, parameters: checked elsewhere, or free-form by nature
LABELS = {"type": "object", "propertyNames": {"pattern": LABEL_KEY, "maxLength": 316},
          "additionalProperties": {"type": "string", "pattern": LABEL_VALUE}}
ANNOTATIONS = {"type": "object", "additionalProperties": {"type": "string"}}

METADATA = obj({"name": NAME, "labels": LABELS, "annotations": ANNOTATIONS, "description": STRING}, ["name"])

LABEL_SELECTOR = obj({
    "matchLabels": LABELS,
    "matchExpressions": array(obj({
        "key": {"type": "string", "pattern": LABEL_KEY},
        "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
        "values": array({"type": "string"}),
    }, ["key", "operator"])),
})

TAINT = obj({
    "key": {"type": "string", "pattern": LABEL_KEY},
    "value": {"type": "string"},
    "effect": {"enum": ["NoSelect", "PreferNoSelect", "NoSelectIfNew"]},
}, ["key", "effect"])

TOLERATION = obj({
    "key": {"type": "string", "pattern": LABEL_KEY},
    "operator": {"enum": ["Equal", "Exists"]},
    "value": {"type": "string"},
    "effect": {"enum": ["NoSelect", "PreferNoSelect", "NoSelectIfNew"]},
})

TRAIT_USE = obj({"type": NAME, "properties": FREE_OBJECT}, ["type"])

PARAMETER_DECLARATIONS = {"type": "object", "propertyNames": {"pattern": PARAMETER_NAME},
                          "additionalProperties": {"type": "object"}}

POD_SECURITY_LEVELS = ("privileged", "baseline", "restricted")

RELEASE_OPTIONS = obj({
    "timeout": {"type": "string", "pattern": r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$", "examples": ["10m", "1h30m"],
                "description": "Flux: how long a Helm install or upgrade may take"},
    "retries": {"type": "integer", "minimum": 0, "maximum": 100,
                "description": "Flux: install and upgrade remediation retries"},
    "syncRetries": {"type": "integer", "minimum": 0, "maximum": 100,
                    "description": "Argo CD: how often a failed sync is retried (backing off from 5s to 3m)"},
    "crds": {"enum": ["Skip", "Create", "CreateReplace"],
             "description": "Flux: what a Helm upgrade does with the chart's CRDs (install creates them)"},
    "driftDetection": {"enum": ["enabled", "warn", "disabled"], "description": "Flux: HelmRelease drift detection"},
    "syncOptions": array({"type": "string", "pattern": r"^[A-Za-z]+=[A-Za-z0-9-]+$"},
                         description="Argo CD sync options, e.g. ServerSideApply=true"),
})

# API groups of CustomResourceDefinitions (`monitoring.coreos.com`): what a chart, a cluster-profile layer or a
# cluster installs, so that custom resources are applied only after their CRD
API_GROUPS = array({"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$",
                    "examples": ["monitoring.coreos.com", "ray.io"]})

DEFINITION_SPEC = obj({
    "description": STRING,
    "parameters": {"type": "object"},  # a JSON Schema of the definition's properties, checked in validate
    "template": NONEMPTY,
}, ["template"])
COMPONENT_DEFINITION_SPEC = {**DEFINITION_SPEC, "properties": {
    **DEFINITION_SPEC["properties"],
    # where custom kinds the template renders keep their pods, so that traits reach them (KubeVela's podSpecPath)
    "podTemplates": array(obj({
        "kind": {"type": "string", "pattern": "^[A-Z][A-Za-z0-9]*$"},
        "apiVersion": NONEMPTY,
        "path": {"type": "string", "minLength": 1, "examples": ["spec.workerGroupSpecs[*].template"]},
        "replicas": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9]*$", "examples": ["replicas"]},
    }, ["kind", "path"])),
}}

GPU_FACT = obj({
    "product": NONEMPTY,
    "memory": QUANTITY,
    "count": {"type": "integer", "minimum": 0},
    "timeSlicing": obj({"replicas": {"type": "integer", "minimum": 1}}, ["replicas"]),
    "mig": {"type": "object", "propertyNames": {"pattern": MIG_PROFILE_PATTERN},
            "additionalProperties": {"type": "integer", "minimum": 0}},
    # published through Dynamic Resource Allocation: the DRA driver, and its device attributes as it wrote them
    "dra": obj({"driver": NONEMPTY, "productName": NONEMPTY, "architecture": NONEMPTY,
                "cudaComputeCapability": NONEMPTY, "driverVersion": NONEMPTY}, ["driver"]),
})

DEVICE_FACTS = obj({
    "arch": NONEMPTY,
    "cpu": obj({"cores": {"type": "integer", "minimum": 0}}),
    "memory": QUANTITY,
    "gpus": array(GPU_FACT),
    "nics": array(obj({"name": STRING, "speed": STRING})),
    "region": NONEMPTY,
    "zone": NONEMPTY,
    # the labels its node carries (as `kubectl get nodes` shows them): what node selectors are checked against
    "nodeLabels": {"type": "object", "propertyNames": {"pattern": LABEL_KEY},
                   "additionalProperties": {"type": "string", "pattern": LABEL_VALUE}},
})

DEVICE_TAGS = obj({
    "arch": NONEMPTY,
    "cpu.cores": {"type": "integer", "minimum": 0},
    "memory": QUANTITY,
    "gpu.product": NONEMPTY,
    "gpu.count": {"type": "integer", "minimum": 0},
    "gpu.memory": QUANTITY,
})

_DEVICE_BODY = {
    "role": {"enum": ["controlPlane", "worker"]},
    "state": {"enum": ["ready", "cordoned", "unhealthy"]},
    "facts": DEVICE_FACTS,
    "tags": DEVICE_TAGS,
}

SPECS: dict[str, dict[str, Any]] = {
    "Settings": obj({
        "inputs": array({"type": "string", "minLength": 1}),
        "output": {"type": "string", "minLength": 1},
        "gitops": obj({
            "engine": {"enum": ["flux", "argocd"]},
            "interval": DURATION,
            "repoURL": NONEMPTY,
            "branch": NONEMPTY,
            # git: clusters follow the rendered repository; oci: each its own artifact (`easel publish --oci`)
            "delivery": {"enum": ["git", "oci"]},
            "oci": obj({
                "repository": {"type": "string", "pattern": r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+$"},
                "tag": {"type": "string", "pattern": r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"},
                "insecure": {"type": "boolean"},
            }, ["repository"]),
        }, allOf=[{"if": {"properties": {"delivery": {"const": "oci"}}, "required": ["delivery"]},
                   "then": {"required": ["oci"]}}]),
        "parameters": FREE_OBJECT,
    }),
    "Repository": obj({
        "type": {"enum": ["helm", "oci", "git"]},
        "url": NONEMPTY,
        "secretRef": NAME,
    }, ["type", "url"]),
    "ComponentDefinition": COMPONENT_DEFINITION_SPEC,
    "TraitDefinition": DEFINITION_SPEC,
    "WorkloadProfile": obj({
        "version": SEMVER,
        "type": {"enum": ["Application", "Model", "Infrastructure"]},
        "parameters": PARAMETER_DECLARATIONS,
        "requires": obj({
            "kubernetes": RANGE,
            "arch": {"type": "string", "pattern": "^[a-z0-9]+$", "examples": ["amd64", "arm64"]},
            "profiles": array(obj({"name": NAME, "version": RANGE}, ["name"])),
        }),
        "components": array(obj({
            "name": NAME,
            "type": NAME,
            "properties": FREE_OBJECT,
            "traits": array(TRAIT_USE),
            "dependsOn": array(NAME),
            "release": RELEASE_OPTIONS,
        }, ["name", "type"]), minItems=1),
    }, ["version", "components"]),
    "ClusterProfile": obj({
        "version": SEMVER,
        "layers": array(obj({
            "type": {"enum": ["os", "kubernetes", "cni", "csi", "addon"]},
            "name": NONEMPTY,
            "version": {"type": "string", "minLength": 1},
            "crds": API_GROUPS,  # the API groups whose CRDs the layer installs
        }, ["type", "name", "version"])),
    }, ["version"]),
    "Cluster": obj({
        "source": {"enum": ["palette", "byoc"]},
        "clusterProfile": obj({"name": NAME, "version": SEMVER}, ["name", "version"]),
        "kubernetesVersion": {"type": "string", "minLength": 1},
        "gitops": obj({"engine": {"enum": ["flux", "argocd"]}}),
        # how pods get GPUs: device-plugin limits (GPU Feature Discovery labels), or dra (resource.k8s.io/v1
        # claims); by default dra when every GPU of its devices was imported from ResourceSlices
        "gpu": obj({"allocation": {"enum": list(ALLOCATION_MODES)}}),
        "taints": array(TAINT),
        "crds": API_GROUPS,  # API groups whose CRDs the cluster already has (installed outside easel)
        "devices": array(obj({"name": NAME, **_DEVICE_BODY}, ["name"])),
    }, ["source"], allOf=[
        {"if": {"properties": {"source": {"const": "palette"}}, "required": ["source"]},
         "then": {"required": ["clusterProfile"]}},
        {"if": {"properties": {"source": {"const": "byoc"}}, "required": ["source"]},
         "then": {"required": ["kubernetesVersion"]}},
    ]),
    "Device": obj({"cluster": NAME, **_DEVICE_BODY}, ["cluster"]),
    "Project": obj({
        "quota": obj({
            "gpus": {"type": "integer", "minimum": 0},
            "gpusByProduct": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
        }),
        "parameters": FREE_OBJECT,
    }),
    "Environment": obj({
        "projects": array({"type": "string", "anyOf": [{"pattern": DNS_LABEL, "maxLength": 63}, {"const": "*"}]}),
        "placement": obj({
            "clusterSelector": LABEL_SELECTOR,
            "numberOfClusters": {"type": "integer", "minimum": 1},
            "prioritizers": array(obj({
                "name": {"enum": ["MostFreeGPU", "LeastWorkloads", "Steady"]},
                "weight": {"type": "integer", "minimum": 0, "maximum": 10},
            }, ["name"])),
            "tolerations": array(TOLERATION),
            "spread": obj({"by": {"type": "string", "pattern": LABEL_KEY},
                           "maxSkew": {"type": "integer", "minimum": 1, "default": 1}}, ["by"]),
        }),
        "namespace": obj({
            "strategy": {"enum": ["project", "workload"]},
            "quota": {"type": "object", "additionalProperties": QUANTITY},
            "isolation": {"enum": ["none", "strict"]},
            # namespaces whose pods may reach the workloads under strict isolation (ingress controller, scrapers)
            "allowFrom": array({"type": "string", "pattern": DNS_LABEL, "maxLength": 63}),
            "egress": {"enum": ["open", "restricted"]},
            "egressAllow": obj({
                "cidrs": array({"type": "string", "pattern": r"^[0-9a-fA-F:.]+/[0-9]{1,3}$"}),
                "namespaces": array({"type": "string", "pattern": DNS_LABEL, "maxLength": 63}),
            }),
            # Pod Security admission on the namespaces easel creates: one level for every mode, or per mode
            "podSecurity": {"anyOf": [{"enum": list(POD_SECURITY_LEVELS)}, obj({
                mode: {"enum": list(POD_SECURITY_LEVELS)} for mode in ("enforce", "warn", "audit")})]},
        }),
        "defaults": obj({"parameters": FREE_OBJECT, "traits": array(TRAIT_USE), "release": RELEASE_OPTIONS}),
        "policy": obj({
            "allowedProfiles": array(obj({"name": NAME, "versions": RANGE}, ["name"])),
            "maxGPUsPerWorkload": {"type": "integer", "minimum": 0},
            "requiredTraits": array(NAME),
            "allowedRegistries": array(NONEMPTY),
        }),
        "rollout": obj({
            "strategy": {"enum": ["all", "progressive"]},
            "waves": array(obj({
                "name": NAME,
                "clusterSelector": LABEL_SELECTOR,
                "percent": {"type": "integer", "minimum": 1, "maximum": 100},
            }, ["name"])),
        }),
    }),
    "Workload": obj({
        "project": NAME,
        "environment": NAME,
        "profile": obj({"name": NAME, "version": RANGE}, ["name"]),
        "parameters": FREE_OBJECT,
        "traits": {"type": "object", "propertyNames": {"pattern": DNS_LABEL},
                   "additionalProperties": array(TRAIT_USE)},
    }, ["project", "environment", "profile"]),
}

KINDS = tuple(SPECS)


def document_schema(kind: str) -> dict[str, Any]:
    """The whole-document schema of a kind, standalone (for editors and for validation)."""
    settings = kind == "Settings"
    return {
        "$schema": DIALECT,
        "$id": f"https://easel.dev/schemas/v1alpha1/{kind}.json",
        "title": kind,
        **obj({
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": kind},
            "metadata": METADATA,
            "spec": copy.deepcopy(SPECS[kind]),
        }, ["apiVersion", "kind"] if settings else ["apiVersion", "kind", "metadata", "spec"]),
    }


def combined_schema() -> dict[str, Any]:
    """One schema for every easel file: dispatches on `kind` (for editors)."""
    defs = {kind: {k: v for k, v in document_schema(kind).items() if k not in ("$schema", "$id")} for kind in KINDS}
    return {
        "$schema": DIALECT,
        "$id": "https://easel.dev/schemas/v1alpha1/all.json",
        "title": "easel document",
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"enum": list(KINDS)}},
        "allOf": [{"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                   "then": {"$ref": f"#/$defs/{kind}"}} for kind in KINDS],
        "$defs": defs,
    }
