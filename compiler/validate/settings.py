"""easel.yaml's Settings, and the parameter layers and definition schemas every document kind shares."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from compiler.diagnostics import Diagnostics, Location
from compiler.load import SETTINGS_FILE, RawDocument
from compiler.load.source import PathOutsideRepository, normalize
from compiler.model import ParamSetting, ReleaseOptions, Settings
from compiler.schemas import check as schemacheck
from compiler.schemas.blocks import API_VERSION
from compiler.schemas.defaults import with_defaults
from compiler.validate.schema import absent_defaults, spec_schema, validator


def settings(doc: RawDocument | None, diagnostics: Diagnostics) -> Settings:
    """easel.yaml's Settings, its defaults filled in from the schema; a missing or broken easel.yaml gives the
    defaults alone."""
    if doc is None:
        found = _settings(with_defaults(spec_schema("Settings"), {}), Location(SETTINGS_FILE), diagnostics)
        _placeholder_repository(found, None, Location(SETTINGS_FILE), diagnostics)
        return found
    problems = schemacheck.check(validator("Settings"), doc.data, doc.loc)
    if doc.data.get("apiVersion") == API_VERSION and doc.data.get("kind") != "Settings":
        problems = [p for p in problems if p.code != "E206"]
        diagnostics.error("E202", f"{SETTINGS_FILE} must hold a Settings document, not {doc.data.get('kind')!r}",
                          doc.loc.at("kind"))
    diagnostics.extend(problems)
    spec = None if problems else doc.data.get("spec")
    found = _settings(with_defaults(spec_schema("Settings"), spec if isinstance(spec, dict) else {}), doc.loc,
                      diagnostics)
    if not problems:  # a broken easel.yaml's defaults are not what its author wrote
        _placeholder_repository(found, spec if isinstance(spec, dict) else {}, doc.loc, diagnostics)
    return found


# Names reserved for documentation and tests (RFC 2606, RFC 6761): no cluster can read a repository there.
# Loopback (localhost, 127.0.0.1) is real: a local Git server for a test cluster.
_RESERVED_DOMAINS = ("example.com", "example.org", "example.net")
_RESERVED_TOP_LEVEL = ("example", "invalid", "test")


def _placeholder_repository(found: Settings, spec: dict[str, Any] | None, loc: Location,
                            diagnostics: Diagnostics) -> None:
    """W111: with git delivery every cluster's bootstrap follows gitops.repoURL, so one on a reserved name (as
    `easel init` and the schema's default write it) deploys nothing. Said where it is written, or, when it is
    left to the default, where it would go."""
    if found.delivery != "git" or not _reserved_host(_host(found.repo_url)):
        return
    gitops = (spec or {}).get("gitops")
    if isinstance(gitops, dict) and "repoURL" in gitops:
        message = (f"gitops.repoURL {found.repo_url!r} is a placeholder ({_host(found.repo_url)} is reserved for "
                   "examples): the clusters would follow a repository that does not exist")
        where = loc.at("spec", "gitops", "repoURL")
    elif spec is not None:
        message = f"gitops.repoURL is not set: the clusters would follow its default placeholder {found.repo_url!r}"
        where = loc.at("spec", "gitops") if isinstance(gitops, dict) else loc.at("spec") if spec else loc
    else:
        message = (f"there is no {SETTINGS_FILE}: the clusters would follow the default gitops.repoURL, the "
                   f"placeholder {found.repo_url!r}")
        where = loc
    diagnostics.warning("W111", message, where)


def _host(url: str) -> str:
    """The host of a Git URL: scheme://[user@]host[:port]/path, or scp-like [user@]host:path."""
    try:
        host = urlsplit(url).hostname if "://" in url else url.split("@", 1)[-1].split(":", 1)[0]
    except ValueError:  # a malformed IPv6 address: not a name
        return ""
    return (host or "").lower().rstrip(".")


def _reserved_host(host: str) -> bool:
    labels = host.split(".")
    return (any(host == domain or host.endswith("." + domain) for domain in _RESERVED_DOMAINS)
            or (len(labels) > 1 and labels[-1] in _RESERVED_TOP_LEVEL))


def _settings(spec: dict[str, Any], loc: Location, diagnostics: Diagnostics) -> Settings:
    """Settings of a valid spec with its defaults filled in."""
    gitops = spec["gitops"]
    oci = gitops.get("oci") or absent_defaults("Settings", "gitops", "oci")  # git delivery: no oci
    output = _output_folder(spec["output"], loc, diagnostics)
    inputs = tuple(spec["inputs"])
    for index, folder in enumerate(inputs):
        try:
            clean = normalize(folder)
        except PathOutsideRepository:
            continue  # reported by load
        if clean == "" or _inside(output, clean) or _inside(clean, output):
            diagnostics.error("E303", f"input folder {folder!r} overlaps the output folder {output!r}",
                              loc.at("spec", "inputs", index),
                              "inputs and output must be separate folders of the repository")
    return Settings(
        loc=loc, inputs=inputs, output=output, engine=gitops["engine"], render=gitops["render"],
        interval=gitops["interval"],
        repo_url=gitops["repoURL"], branch=gitops["branch"], git_secret_ref=gitops.get("secretRef"),
        parameters=parameter_settings(spec.get("parameters") or {}, loc.at("spec", "parameters")),
        delivery=gitops["delivery"], oci_repository=oci.get("repository"), oci_tag=oci["tag"],
        oci_insecure=oci["insecure"], chart_proof=spec["charts"]["proof"],
        charts_path=spec["charts"]["path"], charts_commit=spec["charts"]["commit"],
    )


def _output_folder(output: str, loc: Location, diagnostics: Diagnostics) -> str:
    """The output folder, normalized; one outside the repository is an error, and the default is used."""
    try:
        output = normalize(output)
        if output == "" or output.split("/")[0].startswith("."):
            raise PathOutsideRepository(output)
    except PathOutsideRepository:
        diagnostics.error("E106", f"output folder {output!r} must be a folder inside the repository",
                          loc.at("spec", "output"))
        output = spec_schema("Settings", "output")["default"]
    return output


_SCHEMA_KEYWORDS: dict[str, type | tuple[type, ...]] = {
    "type": (str, list), "properties": dict, "required": list, "$ref": str, "allOf": list, "anyOf": list,
    "oneOf": list, "additionalProperties": (bool, dict), "$schema": str}


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
