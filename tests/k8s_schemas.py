"""Real schemas for the objects easel writes: upstream CRDs (read from the shared folder) and Kubernetes' own.

- Custom resources (Flux, Argo CD, ...) validate against the `openAPIV3Schema` of the upstream CRD file,
  made strict like `kubeconform -strict`: every object schema that lists `properties` and says nothing about
  other keys (no `additionalProperties`, no `x-kubernetes-preserve-unknown-fields: true`) gets
  `additionalProperties: false`, so a misspelt field fails. The OpenAPI extensions are mapped to JSON Schema:
  `nullable`, `x-kubernetes-int-or-string`, and the few CEL rules (`x-kubernetes-validations`) the Flux CRDs
  carry are evaluated by hand (an unknown rule is skipped, never guessed).
- Built-in kinds validate with kubernetes-validate in strict mode, against the newest Kubernetes it ships.
- `metadata` of every object validates against Kubernetes' strict ObjectMeta (a CRD schema leaves it open).
- Patches easel embeds (Flux post-renderers, Kustomize `patches`) are partial objects: they validate against
  the strict built-in schema with every `required` dropped.

Every schema is loaded and compiled once per process (the Argo CD ApplicationSet CRD is 1.4 MB).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from referencing import Registry, Resource

# (apiVersion, kind) -> CRD file under the shared `crds/` folder (see crds/SOURCES.md).
CRD_FILES: dict[tuple[str, str], str] = {
    ("source.toolkit.fluxcd.io/v1", "HelmRepository"): "fluxcd/helmrepositories.yaml",
    ("source.toolkit.fluxcd.io/v1", "OCIRepository"): "fluxcd/ocirepositories.yaml",
    ("source.toolkit.fluxcd.io/v1", "GitRepository"): "fluxcd/gitrepositories.yaml",
    ("source.toolkit.fluxcd.io/v1", "HelmChart"): "fluxcd/helmcharts.yaml",
    ("helm.toolkit.fluxcd.io/v2", "HelmRelease"): "fluxcd/helmreleases.yaml",
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"): "fluxcd/kustomizations.yaml",
    ("argoproj.io/v1alpha1", "Application"): "argocd/applications.yaml",
    ("argoproj.io/v1alpha1", "ApplicationSet"): "argocd/applicationsets.yaml",
    ("argoproj.io/v1alpha1", "AppProject"): "argocd/appprojects.yaml",
    ("cluster.open-cluster-management.io/v1beta1", "Placement"): "ocm/placements.yaml",
    ("cluster.open-cluster-management.io/v1", "ManagedCluster"): "ocm/managedclusters.yaml",
    ("core.oam.dev/v1beta1", "Application"): "kubevela/applications.yaml",
}

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SchemaUnavailable(Exception):
    """No schema is known or available for an object: the caller decides between skip and fail."""


def is_builtin(api_version: str) -> bool:
    """Core (`v1`) and the Kubernetes API groups (`apps/v1`, `networking.k8s.io/v1`, ...)."""
    if "/" not in api_version:
        return True
    group = api_version.split("/", 1)[0]
    return "." not in group or group.endswith(".k8s.io")


def error_text(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "<root>"
    message = error.message if len(error.message) < 300 else error.message[:300] + "..."
    return f"{where}: {message}"


# --------------------------------------------------------------------------------------------------------
# CRDs


def _rule(text: str) -> str:
    return " ".join(text.split())


def _has(obj: Any, key: str) -> bool:
    return isinstance(obj, dict) and key in obj


# The CEL rules of the shipped CRDs, as Python predicates over the object the rule sits on. The keys are the
# rule texts with whitespace collapsed. Rules not listed here are not evaluated.
CEL_RULES: dict[str, Callable[[dict], bool]] = {
    _rule("(has(self.chart) && !has(self.chartRef)) || (!has(self.chart) && has(self.chartRef))"):
        lambda s: _has(s, "chart") != _has(s, "chartRef"),
    _rule("has(self.configMapRef) || has(self.secretRef)"):
        lambda s: _has(s, "configMapRef") or _has(s, "secretRef"),
    _rule("!(has(self.configMapRef) && has(self.secretRef))"):
        lambda s: not (_has(s, "configMapRef") and _has(s, "secretRef")),
    _rule("!has(self.retryInterval) || self.name != 'RemediateOnFailure'"):
        lambda s: not _has(s, "retryInterval") or s.get("name") != "RemediateOnFailure",
    _rule("!has(self.retryInterval) || self.name == 'RetryOnFailure'"):
        lambda s: not _has(s, "retryInterval") or s.get("name") == "RetryOnFailure",
    _rule("!has(self.verify) || self.sourceRef.kind == 'HelmRepository'"):
        lambda s: not _has(s, "verify") or s.get("sourceRef", {}).get("kind") == "HelmRepository",
    _rule("!has(self.serviceAccountName) || (has(self.provider) && (self.provider == 'azure' "
          "|| self.provider == 'aws'))"):
        lambda s: not _has(s, "serviceAccountName") or s.get("provider") in ("azure", "aws"),
}


def _cel_keyword(validator, rules, instance, schema):
    if not isinstance(instance, dict):
        return
    for rule in rules or []:
        check = CEL_RULES.get(_rule(rule.get("rule", "")))
        if check is not None and not check(instance):
            yield jsonschema.ValidationError(f"{rule.get('message') or rule['rule']} (CEL rule: {rule['rule']})")


_CRDValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator,
                                             {"x-kubernetes-validations": _cel_keyword})


def strict_openapi(schema: dict) -> dict:
    """A JSON Schema (Draft 2020-12) copy of a CRD's openAPIV3Schema, closed against unknown fields."""
    schema = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        if node.get("x-kubernetes-int-or-string") and "anyOf" not in node and "type" not in node:
            node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if node.get("nullable") is True:
            if isinstance(node.get("type"), str):
                node["type"] = [node["type"], "null"]
            if isinstance(node.get("enum"), list) and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
        if ("properties" in node and "additionalProperties" not in node
                and node.get("x-kubernetes-preserve-unknown-fields") is not True):
            node["additionalProperties"] = False
        for sub in (node.get("properties") or {}).values():
            walk(sub)
        for key in ("items", "additionalProperties", "not"):
            walk(node.get(key))
        for key in ("anyOf", "allOf", "oneOf"):
            for sub in node.get(key) or []:
                walk(sub)

    walk(schema)
    return schema


@functools.cache
def _crd_validator(path: Path, api_version: str, kind: str) -> jsonschema.protocols.Validator:
    with open(path, "rb") as f:
        crd = yaml.load(f, Loader=_Loader)
    group, version = api_version.split("/", 1)
    spec = crd["spec"]
    if spec["group"] != group or spec["names"]["kind"] != kind:
        raise SchemaUnavailable(f"{path} defines {spec['group']}/{spec['names']['kind']}, not {group}/{kind}")
    for entry in spec["versions"]:
        if entry["name"] == version:
            if not entry.get("served", False):
                raise SchemaUnavailable(f"{path}: {api_version} {kind} is not served")
            schema = strict_openapi(entry["schema"]["openAPIV3Schema"])
            # No check_schema(): it takes seconds on the 1.4 MB ApplicationSet schema.
            return _CRDValidator(schema)
    served = [e["name"] for e in spec["versions"]]
    raise SchemaUnavailable(f"{path} serves {group} {served}, not {version}")


def crd_schema_file(crds_dir: Path, obj: dict) -> Path:
    key = (obj.get("apiVersion", ""), obj.get("kind", ""))
    if key not in CRD_FILES:
        raise SchemaUnavailable(f"no CRD schema known for {key[0]} {key[1]}")
    return crds_dir / CRD_FILES[key]


def validate_custom(obj: dict, crds_dir: Path) -> list[str]:
    """Strict validation of a custom resource against its upstream CRD; error texts, empty when valid."""
    path = crd_schema_file(crds_dir, obj)
    if not path.is_file():
        raise SchemaUnavailable(f"CRD file {path} not found")
    validator = _crd_validator(path, obj["apiVersion"], obj["kind"])
    return sorted(error_text(e) for e in validator.iter_errors(obj))


# --------------------------------------------------------------------------------------------------------
# Built-in kinds (kubernetes-validate)


@functools.cache
def kubernetes_version() -> str:
    """The newest Kubernetes version kubernetes-validate ships schemas for, e.g. '1.37.0'."""
    return kubernetes_validate.utils.latest_version()


def validate_builtin(obj: dict) -> list[str]:
    """Strict validation of a built-in kind with kubernetes-validate (it reports the first error)."""
    try:
        kubernetes_validate.validate(obj, kubernetes_version(), strict=True)
    except kubernetes_validate.SchemaNotFoundError as e:
        raise SchemaUnavailable(e.message) from None
    except kubernetes_validate.ValidationError as e:
        return [f"{error_text(e)} (Kubernetes {e.version}, strict)"]
    return []


def _schema_dir():
    return resources.files("kubernetes_validate").joinpath("kubernetes-json-schema",
                                                          f"v{kubernetes_version()}-local-strict")


def _api_file(api_version: str, kind: str) -> str:
    # Same naming as kubernetes-validate: rbac.authorization.k8s.io/v1 -> rbac-v1, v1 -> v1
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return f"{kind.lower()}-{api}.json"


def _drop_required(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _drop_required(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_drop_required(v) for v in node]
    return node


@functools.lru_cache(maxsize=2)
def _definitions(partial: bool) -> Registry:
    defs = json.loads(_schema_dir().joinpath("_definitions.json").read_text())
    if partial:
        defs = _drop_required(defs)
    return Resource.from_contents(defs) @ Registry()


@functools.cache
def _builtin_validator(api_version: str, kind: str, partial: bool) -> jsonschema.protocols.Validator:
    ref = _schema_dir().joinpath(_api_file(api_version, kind))
    if not ref.is_file():
        raise SchemaUnavailable(f"Kubernetes {kubernetes_version()} has no schema for {api_version} {kind}")
    schema = json.loads(ref.read_text())
    if partial:
        schema = _drop_required(schema)
    return jsonschema.Draft202012Validator(schema, registry=_definitions(partial))


def _without_nulls(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_without_nulls(v) for v in node]
    return node


def validate_builtin_partial(obj: dict) -> list[str]:
    """A patch: every field it names exists in the strict built-in schema, with the right type (a null is a
    strategic merge patch's "delete this key", checked no further)."""
    validator = _builtin_validator(obj.get("apiVersion", ""), obj.get("kind", ""), True)
    return sorted(error_text(e) for e in validator.iter_errors(_without_nulls(obj)))


@functools.lru_cache(maxsize=1)
def _object_meta_validator() -> jsonschema.protocols.Validator:
    ref = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    return jsonschema.Draft202012Validator({"$ref": ref}, registry=_definitions(False))


def validate_metadata(obj: dict) -> list[str]:
    """`metadata` against Kubernetes' strict ObjectMeta, plus label and annotation syntax."""
    meta = obj.get("metadata")
    errors = [f"metadata.{error_text(e)}" for e in _object_meta_validator().iter_errors(meta)]
    if isinstance(meta, dict):
        errors += label_errors(meta.get("labels") or {}, "metadata.labels")
        for key in meta.get("annotations") or {}:
            if (problem := qualified_name_error(key)):
                errors.append(f"metadata.annotations: key {key!r} {problem}")
    return sorted(errors)


# --------------------------------------------------------------------------------------------------------
# Names and labels, as the API server checks them (k8s.io/apimachinery/pkg/util/validation)

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
HELM_RELEASE_MAX = 53


def dns_label_error(name: str, rfc1035: bool = False) -> str | None:
    if not isinstance(name, str) or len(name) > 63:
        return f"is longer than 63 characters ({len(name)})" if isinstance(name, str) else "is not a string"
    if not (DNS1035_LABEL if rfc1035 else DNS1123_LABEL).match(name):
        return f"is not a DNS-{'1035' if rfc1035 else '1123'} label"
    return None


def dns_subdomain_error(name: str) -> str | None:
    if not isinstance(name, str) or len(name) > 253:
        return "is not a DNS-1123 subdomain of at most 253 characters"
    if not DNS1123_SUBDOMAIN.match(name):
        return "is not a DNS-1123 subdomain"
    return None


def qualified_name_error(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and dns_subdomain_error(prefix):
        return f"has an invalid prefix {prefix!r}"
    if len(name) > 63 or not _QUALIFIED_NAME.match(name):
        return "is not a qualified name (at most 63 alphanumerics, '-', '_', '.')"
    return None


def label_errors(labels: dict, where: str) -> list[str]:
    errors = []
    if not isinstance(labels, dict):
        return [f"{where} is not a map"]
    for key, value in labels.items():
        if (problem := qualified_name_error(str(key))):
            errors.append(f"{where}: key {key!r} {problem}")
        if not isinstance(value, str):
            errors.append(f"{where}[{key}]: value {value!r} is not a string")
        elif value and (len(value) > 63 or not _QUALIFIED_NAME.match(value)):
            errors.append(f"{where}[{key}]: value {value!r} is not a valid label value (at most 63 characters)")
    return errors
