"""The pieces every schema is built of: the API version, name and label patterns, the custom formats' patterns
(for editors), and small builders (`obj`, `array`, `described`) with the common field types."""

from __future__ import annotations

from typing import Any

from compiler.kube.names import CHART_NAME_PATTERN
from compiler.model import quantity

API_VERSION = "easel.dev/v1alpha1"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE = "https://easel.dev/schemas/v1alpha1/"

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
LABEL_KEY = (r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
             r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$"
PARAMETER_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"

# The patterns of the custom formats, for editors (ECMA-262 regular expressions, as JSON Schema says). quantity
# is the parser's own; semver is strict semantic versioning as easel takes it (no `v`, no spaces); semver-range
# admits every range node-semver reads (and Helm's commas), so an editor never flags a good one, and still
# rejects words and sizes; duration is what easel writes into Flux (`10m`, `1h30m`, `500ms`).
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
_NUMBER = r"(0|[1-9][0-9]*)"
_IDENTIFIERS = r"[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*"
_PRERELEASE = r"(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
SEMVER_PATTERN = (rf"^{_NUMBER}\.{_NUMBER}\.{_NUMBER}(-{_PRERELEASE}(\.{_PRERELEASE})*)?"
                  rf"(\+{_IDENTIFIERS})?$")
# a range: version cores (`1.2`, `1.x`, `*`, with prerelease and build) between runs of operators, blanks,
# commas, `||` and `v`, and ` - ` of hyphen ranges; unambiguous, so that no input makes an editor backtrack long
_CORE = r"[0-9xX*]+(\.[0-9xX*]+){0,2}(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?"
_BETWEEN = r"[\s,<>=~^|vV]"
SEMVER_RANGE_PATTERN = (rf"^(?=[\s\S]*[0-9xX*|]){_BETWEEN}*({_CORE}({_BETWEEN}+(-[\s,vV]+)?{_CORE})*)?"
                        rf"{_BETWEEN}*$")
# a chart's version as a repository serves it; never a path: an archive is stored and looked up by it. Helm's
# versions are SemVer 2, NVIDIA's charts write a leading `v`. (The name's pattern: kube/names.py.)
CHART_VERSION_PATTERN = "^v?" + SEMVER_PATTERN.removeprefix("^")
VALUES_PATH_PATTERN = (r'^([^.\[\]"]+|\[([0-9]+|\*)\]|\["[^"]+"\])'
                       r'(\.[^.\[\]"]+|\[([0-9]+|\*)\]|\["[^"]+"\])*$')
FORMAT_PATTERNS = {
    "quantity": quantity.PATTERN,
    "semver": SEMVER_PATTERN,
    "semver-range": SEMVER_RANGE_PATTERN,
    "duration": DURATION_PATTERN,
    "values-path": VALUES_PATH_PATTERN,
    "chart-name": CHART_NAME_PATTERN,
    "chart-version": CHART_VERSION_PATTERN,
}
NAME_MARKER = "x-easel-name"  # internal: schemacheck says "invalid name" (E207); never in exported schemas


def obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    schema.update(extra)
    return schema


def array(items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "array", "items": items, **extra}


def described(schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    """schema with its description (one sentence: what the field is). A default goes in `default=` (or the
    schema's own "default"): the one place it is written, which validate fills in and the docs show."""
    return {**schema, "description": description, **extra}


NAME = {"type": "string", "pattern": DNS_LABEL, "maxLength": 63, NAME_MARKER: True}

STRING = {"type": "string"}
NONEMPTY = {"type": "string", "minLength": 1}
COUNT = {"type": "integer", "minimum": 0}
QUANTITY = {"type": ["string", "number"], "format": "quantity"}
SEMVER = {"type": "string", "format": "semver"}
RANGE = {"type": "string", "format": "semver-range"}
DURATION = {"type": "string", "format": "duration"}
FREE_OBJECT = {"type": "object"}  # helm values, parameters: checked elsewhere, or free-form by nature
NAMESPACE_NAME = {"type": "string", "pattern": DNS_LABEL, "maxLength": 63}
LABELS = {"type": "object", "propertyNames": {"pattern": LABEL_KEY, "maxLength": 316},
          "additionalProperties": {"type": "string", "pattern": LABEL_VALUE}}
ANNOTATIONS = {"type": "object", "additionalProperties": {"type": "string"}}
PARAMETER_LAYER = "parameter values by name (`{value: X, locked: true}` locks one against higher layers)"

# Where custom kinds keep their pods, so that traits reach them (KubeVela's podSpecPath): a ComponentDefinition's
# and a manifests component's. Written, even as [], it lists every custom kind that runs pods.
POD_TEMPLATE_PATHS = described(array(obj({
    "kind": described({"type": "string", "pattern": "^[A-Z][A-Za-z0-9]*$"},
                      "The custom kind that runs pods (e.g. RayCluster)."),
    "apiVersion": described(NONEMPTY, "Narrows the kind to this apiVersion (default: any)."),
    "path": described({"type": "string", "minLength": 1, "examples": ["spec.workerGroupSpecs[*].template"]},
                      "The pod template's field; `[*]` is every item of a list or value of a mapping."),
    "replicas": described({"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9]*$", "examples": ["replicas"]},
                          "The field beside each template that says how many pods it runs (default: one)."),
}, ["kind", "path"])), "Where the custom kinds of the objects keep their pod templates, so that traits reach "
                       "them. Once written (`[]` too), a custom kind it leaves out runs no pods.")
