"""easel.yaml's Settings, and the parameter layers and definition schemas every document kind shares."""

from __future__ import annotations

from typing import Any

from compiler.diagnostics import Diagnostics, Location
from compiler.load import SETTINGS_FILE, RawDocument
from compiler.load.source import PathOutsideRepository, normalize
from compiler.model import ParamSetting, ReleaseOptions, Settings
from compiler.schemas import check as schemacheck
from compiler.schemas.blocks import API_VERSION
from compiler.validate.schema import validator


def settings(doc: RawDocument | None, diagnostics: Diagnostics) -> Settings:
    loc = Location(SETTINGS_FILE)
    if doc is None:
        return Settings(loc=loc)
    problems = schemacheck.check(validator("Settings"), doc.data, doc.loc)
    if doc.data.get("apiVersion") == API_VERSION and doc.data.get("kind") != "Settings":
        problems = [p for p in problems if p.code != "E206"]
        diagnostics.error("E202", f"{SETTINGS_FILE} must hold a Settings document, not {doc.data.get('kind')!r}",
                          doc.loc.at("kind"))
    diagnostics.extend(problems)
    if problems:
        return Settings(loc=doc.loc)
    spec = doc.data.get("spec") or {}
    gitops = spec.get("gitops") or {}
    defaults = Settings(loc=doc.loc)
    output = spec.get("output", defaults.output)
    inputs = tuple(spec.get("inputs", defaults.inputs))
    try:
        output = normalize(output)
        if output == "" or output.split("/")[0].startswith("."):
            raise PathOutsideRepository(output)
    except PathOutsideRepository:
        diagnostics.error("E106", f"output folder {output!r} must be a folder inside the repository",
                          doc.loc.at("spec", "output"))
        output = defaults.output
    for index, folder in enumerate(inputs):
        try:
            clean = normalize(folder)
        except PathOutsideRepository:
            continue  # reported by load
        if clean == "" or _inside(output, clean) or _inside(clean, output):
            diagnostics.error("E303", f"input folder {folder!r} overlaps the output folder {output!r}",
                              doc.loc.at("spec", "inputs", index),
                              "inputs and output must be separate folders of the repository")
    return Settings(
        loc=doc.loc, inputs=inputs, output=output,
        engine=gitops.get("engine", defaults.engine), interval=gitops.get("interval", defaults.interval),
        repo_url=gitops.get("repoURL", defaults.repo_url), branch=gitops.get("branch", defaults.branch),
        parameters=parameter_settings(spec.get("parameters") or {}, doc.loc.at("spec", "parameters")),
        delivery=gitops.get("delivery", defaults.delivery), oci_repository=(gitops.get("oci") or {}).get("repository"),
        oci_tag=(gitops.get("oci") or {}).get("tag", defaults.oci_tag),
        oci_insecure=(gitops.get("oci") or {}).get("insecure", defaults.oci_insecure),
    )


_SCHEMA_KEYWORDS = {"type": (str, list), "properties": dict, "required": list, "$ref": str, "allOf": list,
                    "anyOf": list, "oneOf": list, "additionalProperties": (bool, dict), "$schema": str}


def definition_schema(parameters: dict[str, Any] | None) -> dict[str, Any]:
    """A definition's parameters: a JSON Schema of its properties, or (as in a WorkloadProfile) a map of
    property name -> schema, where a property without a default is required."""
    if not parameters:
        return {"type": "object"}
    if any(isinstance(parameters.get(k), t) for k, t in _SCHEMA_KEYWORDS.items()):
        return parameters
    if all(isinstance(v, dict) for v in parameters.values()):
        return {"type": "object", "properties": parameters,
                "required": [name for name, schema in parameters.items() if "default" not in schema]}
    return parameters


def _inside(path: str, folder: str) -> bool:
    return folder == "" or path == folder or path.startswith(folder + "/")


def parameter_settings(values: dict[str, Any], loc: Location) -> dict[str, ParamSetting]:
    """A layer's parameters; `{value: X, locked: true}` locks X against every higher layer."""
    found = {}
    for name, value in values.items():
        if isinstance(value, dict) and set(value) == {"value", "locked"} and isinstance(value["locked"], bool):
            found[str(name)] = ParamSetting(value["value"], value["locked"], loc.at(name))
        else:
            found[str(name)] = ParamSetting(value, False, loc.at(name))
    return found


def release_options(options: dict[str, Any] | None) -> ReleaseOptions:
    options = options or {}
    return ReleaseOptions(options.get("timeout"), options.get("retries"), options.get("crds"),
                          options.get("driftDetection"), tuple(options.get("syncOptions") or ()),
                          options.get("syncRetries"))


def pod_security(setting: Any) -> tuple[tuple[str, str], ...]:
    """(mode, level) pairs: one level says it for enforce, warn and audit alike."""
    if setting is None:
        return ()
    if isinstance(setting, str):
        return tuple((mode, setting) for mode in ("enforce", "warn", "audit"))
    return tuple((mode, setting[mode]) for mode in ("enforce", "warn", "audit") if mode in setting)
