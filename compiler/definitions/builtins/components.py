"""Built-in component definitions: helm-chart, manifests, kustomize, webservice."""

from __future__ import annotations

import copy
from typing import Any

from compiler.kube import podtemplates
from compiler.load.source import normalize
from compiler.model.parts import POD_KINDS, ComponentOutput, HelmChart, RenderContext
from compiler.schemas.blocks import NAME, POD_TEMPLATE_PATHS, QUANTITY, array, described, obj

_RESOURCES = obj({
    "cpu": described(QUANTITY, "CPU request (e.g. 500m or 2)."),
    "memory": described(QUANTITY, "Memory request and limit (e.g. 64Gi)."),
    "requests": described({"type": "object", "additionalProperties": QUANTITY}, "Requests by resource name."),
    "limits": described({"type": "object", "additionalProperties": QUANTITY}, "Limits by resource name."),
})

# Which rendered objects of a chart or folder pod-level traits patch (default: every Deployment and StatefulSet).
_TARGET = described(obj({
    "kind": described({"enum": list(POD_KINDS)}, "The kind of the objects patched."),
    "name": described({"type": "string", "minLength": 1},
                      "Their name, a regular expression as in kustomize (default: every object of the kind)."),
}, ["kind"]), "Which rendered objects traits patch (default: every Deployment and StatefulSet; on a chart easel "
               "can render, where traits must reach containers: the one pod object that fits, found there).")

_CONTAINER = described({"type": "string", "minLength": 1},
                       "The container that container-level traits (gpu, resources, ...) patch (with target; on a "
                       "chart easel can render: the target's one container, found there).")
# "<trait>.<property>", "<trait>.pod.<field>", "<trait>.container.<field>": the values path(s) that take that trait
# property, or what the trait sets on the pod or its container, instead of a patch (e.g. `gpu.count:
# servingEngineSpec.modelSpec[0].requestGPU`, `gpu.pod.tolerations: worker.tolerations`). What no entry takes
# over still goes by patch.
_VALUES_PATH = {"type": "string", "format": "values-path"}
_TRAIT_VALUES = described({
    "type": "object",
    "propertyNames": {"pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\.((pod|container)\.)?[A-Za-z_][A-Za-z0-9_]*$"},
    "additionalProperties": {"anyOf": [_VALUES_PATH, array(_VALUES_PATH, minItems=1)]}},
    "Chart values paths that take a trait's property, or what it sets on the pod or container, instead of a patch "
    "(e.g. `{replicas.count: replicaCount}`).")
_CRDS = array({"type": "string", "minLength": 1}, description=(
    "API groups whose CustomResourceDefinitions it installs (e.g. monitoring.coreos.com): custom resources of them "
    "are applied after it."))

SCHEMAS: dict[str, dict[str, Any]] = {
    "helm-chart": obj({
        "path": described({"type": "string", "minLength": 1}, (
            "The chart's folder in a Git `repository`; without `repository`, an in-house chart's folder under "
            "charts.path (e.g. charts/model-gateway).")),
        "repository": described(NAME, "The Repository the chart comes from."),
        "chart": described({"type": "string", "format": "chart-name"}, "The chart's name in the repository."),
        "version": described({"type": "string", "format": "chart-version"},
                             "The chart's version: exactly one, as the repository publishes it (e.g. 1.4.2, v24.9.0)."),
        "values": described({"type": "object"}, "The chart's values."),
        "namespace": described(NAME, "The namespace the chart goes to (default: the workload's)."),
        "releaseName": described({"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 53},
                                 "The Helm release name (default: <workload>-<component>, shortened to 53 "
                                 "characters)."),
        "container": _CONTAINER,
        "target": _TARGET,
        "traitValues": _TRAIT_VALUES,
        "crds": _CRDS,
        "imageValues": array({"type": "string", "format": "values-path"}, description=(
            "Values paths that hold the chart's images: checked against allowedRegistries, rewritten by "
            "image-registry, listed in images.txt.")),
    }, oneOf=[{"required": ["repository", "chart", "version"], "not": {"required": ["path"]}},
              {"required": ["repository", "path"],  # a chart of a Git Repository, at its `ref`
               "not": {"anyOf": [{"required": ["chart"]}, {"required": ["version"]}]}},
              {"required": ["path"], "not": {"anyOf": [{"required": [key]} for key in ("repository", "chart",
                                                                                      "version")]}}]),
    "manifests": obj({
        "objects": described(array({"type": "object", "required": ["apiVersion", "kind", "metadata"]}),
                             "Kubernetes objects, inline."),
        "files": described(array({"type": "string", "minLength": 1}),
                           "YAML files of Kubernetes objects, in the input folders."),
        "podTemplates": POD_TEMPLATE_PATHS,
    }, anyOf=[{"required": ["objects"]}, {"required": ["files"]}]),
    "kustomize": obj({"path": described({"type": "string", "minLength": 1},
                                        "The Kustomize folder in the repository, applied as it is."),
                      "container": _CONTAINER, "target": _TARGET, "crds": _CRDS}, ["path"]),
    "webservice": obj({
        "image": described({"type": "string", "minLength": 1}, "The container image."),
        "port": described({"type": "integer", "minimum": 1, "maximum": 65535},
                          "The port the container serves and the Service exposes."),
        "replicas": described({"type": "integer", "minimum": 0}, "The Deployment's replicas (default 1)."),
        "env": described({"anyOf": [
            {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
            array(obj({"name": described({"type": "string"}, "The variable's name."),
                       "value": described({"type": "string"}, "Its value.")}, ["name"])),
        ]}, "Environment variables: a mapping of name to value, or a list of {name, value}."),
        "command": described(array({"type": "string"}), "The container's command (default: the image's)."),
        "args": described(array({"type": "string"}), "The container's arguments."),
        "resources": described(_RESOURCES, "The container's CPU and memory."),
        "runAsUser": described({"type": "integer", "minimum": 1}, (
            "The user the container runs as, for images whose own user is root (the pod runs as non-root).")),
    }, ["image"]),
}

DESCRIPTIONS = {
    "helm-chart": "a Helm chart from a Repository (Flux HelmRelease, or Argo CD Application with a Helm source)",
    "manifests": "plain Kubernetes objects, inline (`objects`) or from YAML files in the repository (`files`)",
    "kustomize": "a Kustomize folder in the repository (`path`), applied as it is",
    "webservice": "a container image served by a Deployment and a Service, under Pod Security \"restricted\"",
}


def helm_chart(props: dict[str, Any], ctx: RenderContext) -> ComponentOutput:
    values = copy.deepcopy(props.get("values") or {})
    if "path" in props and "repository" in props:  # a Git repository's chart: its version is the Repository's ref
        folder = props["path"].strip("/")  # (resolve sets it, and checks the Repository is a Git one)
        return ComponentOutput(helm=HelmChart(props["repository"], folder.rsplit("/", 1)[-1], "", values,
                                              props.get("releaseName"), props.get("namespace"), git_path=folder))
    if "path" in props:  # an in-house chart: its name and version from its own Chart.yaml (resolve checks it is one)
        folder = props["path"].strip("/")
        name, version = ctx.charts.get(folder, (folder.rsplit("/", 1)[-1], ""))
        return ComponentOutput(helm=HelmChart("", name, version, values, props.get("releaseName"),
                                              props.get("namespace"), path=folder))
    return ComponentOutput(helm=HelmChart(
        repository=props["repository"], chart=props["chart"], version=str(props["version"]),
        values=values, release_name=props.get("releaseName"), namespace=props.get("namespace")))


def manifests(props: dict[str, Any], ctx: RenderContext) -> ComponentOutput:
    objects = [copy.deepcopy(o) for o in props.get("objects", [])]
    for path in props.get("files", []):  # decide/resolve/components.py checked each path names a loaded manifest file
        objects.extend(copy.deepcopy(o) for o, _ in ctx.files[normalize(path)].objects)
    # decide/resolve/components.py checked each podTemplates entry
    return ComponentOutput(objects=objects, pod_templates=podtemplates.declared_paths(props.get("podTemplates", ())))


def kustomize(props: dict[str, Any], ctx: RenderContext) -> ComponentOutput:
    return ComponentOutput(kustomize_path=props["path"])


def resources_block(props: dict[str, Any]) -> dict[str, Any]:
    """cpu and memory shorthands: requests for both, a limit for memory (CPU limits only throttle)."""
    requests = dict(props.get("requests") or {})
    limits = dict(props.get("limits") or {})
    if "cpu" in props:
        requests.setdefault("cpu", props["cpu"])
    if "memory" in props:
        requests.setdefault("memory", props["memory"])
        limits.setdefault("memory", props["memory"])
    out = {}
    if requests:
        out["requests"] = {k: str(v) for k, v in requests.items()}
    if limits:
        out["limits"] = {k: str(v) for k, v in limits.items()}
    return out


# Pod Security "restricted" (https://kubernetes.io/docs/concepts/security/pod-security-standards/): easel's own
# Deployment meets it; the security-context trait may still change any of it.
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def webservice(props: dict[str, Any], ctx: RenderContext) -> ComponentOutput:
    name = ctx.instance
    selector = {"app.kubernetes.io/name": ctx.component, "app.kubernetes.io/instance": name}
    container: dict[str, Any] = {"name": ctx.component, "image": props["image"]}
    if props.get("command"):
        container["command"] = list(props["command"])
    if props.get("args"):
        container["args"] = list(props["args"])
    env = props.get("env")
    if isinstance(env, dict):
        container["env"] = [{"name": k, "value": _env_text(v)} for k, v in env.items()]
    elif env:
        container["env"] = [dict(e) for e in env]
    if "port" in props:
        container["ports"] = [{"name": "http", "containerPort": props["port"], "protocol": "TCP"}]
    resources = resources_block(props.get("resources") or {})
    if resources:
        container["resources"] = resources
    container["securityContext"] = dict(RESTRICTED_CONTAINER)
    pod_security: dict[str, Any] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    if "runAsUser" in props:
        pod_security["runAsUser"] = props["runAsUser"]
    replicas = props.get("replicas", 1)
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(selector)},
            "template": {"metadata": {"labels": dict(selector)},
                         "spec": {"securityContext": pod_security, "containers": [container]}},
        },
    }
    objects = [deployment]
    if "port" in props:
        objects.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name},
            "spec": {"selector": dict(selector),
                     "ports": [{"name": "http", "port": props["port"], "targetPort": "http", "protocol": "TCP"}]},
        })
    return ComponentOutput(objects=objects, replicas=replicas)


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


RENDERERS = {"helm-chart": helm_chart, "manifests": manifests, "kustomize": kustomize, "webservice": webservice}
