"""Stage 2, validate: check every raw document against its kind's schema, build the typed Model, and check the
references between documents (unknown names, duplicates, missing files).

A document that fails its schema is left out of the model; references to it are not reported again, so one
mistake gives one error.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from functools import lru_cache
from typing import Any, Iterable

from jinja2 import TemplateSyntaxError

from . import builtins, graph, lockfile, quantity, schemacheck, templating, versions
from .decisions import Decisions
from .diagnostics import Diagnostics, Location, Note
from .load import SETTINGS_FILE, RawDocument, RawRepo
from .model import (
    AllowedProfile, Cluster, ClusterProfile, Component, Definition, Device, Environment, GpuFact, Layer,
    ManifestFile, Meta, Model, ParamSetting, Prioritizer, ProfileDependency, Project, Repository, Requirement,
    Selector, Settings, Taint, Toleration, TraitUse, Wave, Workload, WorkloadProfile,
)
from .schemas import API_VERSION, KINDS, document_schema
from .source import PathOutsideRepository, normalize

@lru_cache(maxsize=None)
def _validator(kind: str) -> schemacheck.FastValidator:
    return schemacheck.FastValidator(document_schema(kind))

_DOCUMENT_KINDS = tuple(k for k in KINDS if k != "Settings")


def validate(raw: RawRepo) -> tuple[Model, Diagnostics]:
    diagnostics = Diagnostics()
    settings = _settings(raw.settings, diagnostics)
    model = Model(settings=settings)
    builder = _Builder(model, diagnostics)
    foreign: list[RawDocument] = []
    for doc in raw.documents:
        builder.add(doc, foreign)
    builder.finish(raw, foreign)
    return model, diagnostics


def check_recorded_profiles(model: Model, previous: Decisions) -> Diagnostics:
    """A published profile version must not change: its digest must still be the one easel.lock recorded."""
    diagnostics = Diagnostics()
    for (name, version), recorded in sorted(previous.digests.items()):
        profile = model.profiles.get(name, {}).get(version)
        if profile is not None and profile.digest != recorded:
            diagnostics.error("E504", f"profile {name} {version} changed after easel.lock recorded it",
                              profile.meta.loc.at("spec", "version"))
    return diagnostics


# --- settings ------------------------------------------------------------------------------------------------

def _settings(doc: RawDocument | None, diagnostics: Diagnostics) -> Settings:
    loc = Location(SETTINGS_FILE)
    if doc is None:
        return Settings(loc=loc)
    problems = schemacheck.check(_validator("Settings"), doc.data, doc.loc)
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


# --- documents -----------------------------------------------------------------------------------------------

def _meta(data: dict[str, Any], loc: Location) -> Meta:
    metadata = data["metadata"]
    return Meta(name=metadata["name"], loc=loc, labels=dict(metadata.get("labels") or {}),
                annotations=dict(metadata.get("annotations") or {}), description=metadata.get("description"))


def _selector(data: dict[str, Any] | None) -> Selector:
    data = data or {}
    return Selector(
        match_labels=tuple(sorted((data.get("matchLabels") or {}).items())),
        match_expressions=tuple(Requirement(e["key"], e["operator"], tuple(e.get("values") or ()))
                                for e in data.get("matchExpressions") or ()))


def _selector_problems(data: dict[str, Any] | None, loc: Location) -> Iterable[tuple[str, Location]]:
    for index, expr in enumerate((data or {}).get("matchExpressions") or ()):
        values = expr.get("values") or []
        if expr["operator"] in ("In", "NotIn") and not values:
            yield f"operator {expr['operator']} needs a non-empty `values` list", loc.at("matchExpressions", index)
        if expr["operator"] in ("Exists", "DoesNotExist") and values:
            yield f"operator {expr['operator']} takes no `values`", loc.at("matchExpressions", index, "values")


def _trait_uses(items: Iterable[dict[str, Any]], loc: Location, origin: str) -> tuple[TraitUse, ...]:
    return tuple(TraitUse(t["type"], dict(t.get("properties") or {}), loc.at(i), origin)
                 for i, t in enumerate(items or ()))


def _gpu_facts(facts: dict[str, Any], tags: dict[str, Any]) -> tuple[GpuFact, ...]:
    """GPU facts with manual tags applied: a tag wins over the gathered fact of the same key."""
    gathered = [GpuFact(g.get("product"), quantity.parse(g["memory"]) if "memory" in g else None, g.get("count"),
                        (g.get("timeSlicing") or {}).get("replicas"), tuple(sorted((g.get("mig") or {}).items())))
                for g in facts.get("gpus") or ()]
    tagged = {k: tags[k] for k in ("gpu.product", "gpu.count", "gpu.memory") if k in tags}
    if not tagged:
        return tuple(gathered)
    base = gathered[0] if len(gathered) == 1 else GpuFact(None, None, None)
    if len(gathered) > 1:  # tags describe one kind of GPU: they replace a mixed list
        base = GpuFact(None, None, None)
    return (GpuFact(
        product=tagged.get("gpu.product", base.product),
        memory=quantity.parse(tagged["gpu.memory"]) if "gpu.memory" in tagged else base.memory,
        count=tagged.get("gpu.count", base.count), time_slicing=base.time_slicing, mig=base.mig,
    ),)


def _device(spec: dict[str, Any], name: str, cluster: str, loc: Location) -> Device:
    facts = spec.get("facts") or {}
    tags = spec.get("tags") or {}
    memory = tags.get("memory", facts.get("memory"))
    return Device(
        name=name, cluster=cluster, role=spec.get("role", "worker"), state=spec.get("state", "ready"),
        arch=tags.get("arch", facts.get("arch")),
        cpu_cores=tags.get("cpu.cores", (facts.get("cpu") or {}).get("cores")),
        memory=quantity.parse(memory) if memory is not None else None,
        gpus=_gpu_facts(facts, tags), loc=loc)


class _Builder:
    def __init__(self, model: Model, diagnostics: Diagnostics):
        self.model = model
        self.diagnostics = diagnostics
        self.seen: dict[tuple, Location] = {}  # identity -> first location, for duplicates
        self.broken: set[tuple[str, str]] = set()  # (kind, name) of documents left out after errors
        self.devices: list[Device] = []
        self.definitions: list[Definition] = []
        self.profiles: list[WorkloadProfile] = []

    # one document

    def add(self, doc: RawDocument, foreign: list[RawDocument]) -> None:
        data = doc.data
        api_version, kind = data.get("apiVersion"), data.get("kind")
        if api_version != API_VERSION:
            if isinstance(api_version, str) and api_version.startswith("easel.dev/"):
                self.diagnostics.error("E201", f"unknown apiVersion {api_version!r}", doc.loc.at("apiVersion"))
            elif api_version is None and (kind in KINDS or "spec" in data):
                self.diagnostics.error("E201", "missing apiVersion", doc.loc)
            else:
                foreign.append(doc)
            return
        if kind not in _DOCUMENT_KINDS:
            hint = schemacheck.did_you_mean(str(kind), _DOCUMENT_KINDS)
            where = doc.loc.at("kind") if "kind" in data else doc.loc
            message = "missing kind" if kind is None else f"unknown kind {kind!r}"
            if kind == "Settings":
                message, hint = "Settings belong in easel.yaml at the repository root", None
            self.diagnostics.error("E202", message, where, hint)
            return
        problems = schemacheck.check(_validator(kind), data, doc.loc)
        if problems:
            self.diagnostics.extend(problems)
            name = (data.get("metadata") or {}).get("name") if isinstance(data.get("metadata"), dict) else None
            if isinstance(name, str):
                self.broken.add((kind, name))
            return
        getattr(self, f"_add_{kind}")(data, _meta(data, doc.loc), data["spec"], doc.loc)

    def _unique(self, identity: tuple, loc: Location, what: str, name_path: tuple = ("metadata", "name")) -> bool:
        """False (and an error naming the first definition) when identity was seen before."""
        first = self.seen.get(identity)
        if first is not None:
            self.diagnostics.error("E301", f"duplicate {what}", loc.at(*name_path),
                                   notes=[Note("first defined here", first)])
            return False
        self.seen[identity] = loc.at(*name_path)
        return True

    def _add_Repository(self, data, meta, spec, loc):
        if self._unique(("Repository", meta.name), loc, f"Repository {meta.name!r}"):
            self.model.repositories[meta.name] = Repository(meta, spec["type"], spec["url"], spec.get("secretRef"))
            self._check_repository_url(spec, loc)

    def _check_repository_url(self, spec, loc):
        schemes = {"helm": ("http://", "https://"), "oci": ("oci://",),
                   "git": ("https://", "http://", "ssh://", "git@")}[spec["type"]]
        if not spec["url"].startswith(schemes):
            self.diagnostics.error("E206", f"a {spec['type']} repository URL starts with " + " or ".join(schemes),
                                   loc.at("spec", "url"))

    def _add_definition(self, kind: str, data, meta, spec, loc):
        label = "ComponentDefinition" if kind == "component" else "TraitDefinition"
        if not self._unique((label, meta.name), loc, f"{label} {meta.name!r}"):
            return
        if (kind, meta.name) in self.model.definitions:
            self.diagnostics.error("E301", f"{meta.name!r} is a built-in {kind}; choose another name",
                                   loc.at("metadata", "name"))
            return
        parameters = definition_schema(spec.get("parameters"))
        problem = schemacheck.schema_problem(parameters)
        if problem:
            self.diagnostics.error("E206", f"parameters is not a valid JSON Schema: {problem}",
                                   loc.at("spec", "parameters"))
            self.broken.add((label, meta.name))
            return
        try:
            templating.compile_template(spec["template"])
        except TemplateSyntaxError as exc:
            self.diagnostics.error("E210", f"template syntax error: {templating.syntax_message(exc)}",
                                   loc.at("spec", "template").in_text(exc.lineno))
            self.broken.add((label, meta.name))
            return
        self.model.definitions[(kind, meta.name)] = Definition(meta, kind, parameters, spec["template"])

    def _add_ComponentDefinition(self, data, meta, spec, loc):
        self._add_definition("component", data, meta, spec, loc)

    def _add_TraitDefinition(self, data, meta, spec, loc):
        self._add_definition("trait", data, meta, spec, loc)

    def _add_WorkloadProfile(self, data, meta, spec, loc):
        version = spec["version"]
        if not self._unique(("WorkloadProfile", meta.name, version), loc,
                            f"WorkloadProfile {meta.name!r} version {version}"):
            return
        at = loc.at("spec")
        components = tuple(Component(
            name=c["name"], type=c["type"], properties=dict(c.get("properties") or {}),
            traits=_trait_uses(c.get("traits"), at.at("components", i, "traits"), "profile"),
            depends_on=tuple(c.get("dependsOn") or ()), loc=at.at("components", i))
            for i, c in enumerate(spec["components"]))
        requires = spec.get("requires") or {}
        profile = WorkloadProfile(
            meta=meta, version=version, type=spec.get("type", "Application"),
            parameters={k: dict(v) for k, v in (spec.get("parameters") or {}).items()},
            kubernetes=requires.get("kubernetes"), arch=requires.get("arch"),
            requires_profiles=tuple(ProfileDependency(p["name"], p.get("version", "*"),
                                                      at.at("requires", "profiles", i))
                                    for i, p in enumerate(requires.get("profiles") or ())),
            components=components, digest=lockfile.digest(data))
        self.model.profiles.setdefault(meta.name, {})[version] = profile
        self.profiles.append(profile)

    def _add_ClusterProfile(self, data, meta, spec, loc):
        key = (meta.name, spec["version"])
        if self._unique(("ClusterProfile",) + key, loc, f"ClusterProfile {meta.name!r} version {spec['version']}"):
            layers = tuple(Layer(l["type"], l["name"], l["version"]) for l in spec.get("layers") or ())
            profile = ClusterProfile(meta, spec["version"], layers)
            self.model.cluster_profiles[key] = profile
            k8s = profile.kubernetes_version
            if k8s is not None and versions.kubernetes_version(k8s) is None:
                index = next(i for i, l in enumerate(layers) if l.type == "kubernetes")
                self.diagnostics.error("E501", f"kubernetes layer version {k8s!r} is not a Kubernetes version",
                                       loc.at("spec", "layers", index, "version"))

    def _add_Cluster(self, data, meta, spec, loc):
        if not self._unique(("Cluster", meta.name), loc, f"Cluster {meta.name!r}"):
            return
        at = loc.at("spec")
        profile = spec.get("clusterProfile")
        k8s = spec.get("kubernetesVersion")
        if k8s is not None and versions.kubernetes_version(k8s) is None:
            self.diagnostics.error("E501", f"kubernetesVersion {k8s!r} is not a Kubernetes version",
                                   at.at("kubernetesVersion"), 'write it as "1.29.4"')
        devices = []
        for i, d in enumerate(spec.get("devices") or ()):
            device_loc = at.at("devices", i)
            if self._unique(("Device", meta.name, d["name"]), device_loc,
                            f"device {d['name']!r} in cluster {meta.name!r}", ("name",)):
                devices.append(_device(d, d["name"], meta.name, device_loc))
        self.devices.extend(devices)
        self.model.clusters[meta.name] = Cluster(
            meta=meta, source=spec["source"],
            cluster_profile=(profile["name"], profile["version"]) if profile else None,
            kubernetes_version=k8s, engine=(spec.get("gitops") or {}).get("engine"),
            taints=tuple(Taint(t["key"], t.get("value"), t["effect"]) for t in spec.get("taints") or ()),
            devices=())

    def _add_Device(self, data, meta, spec, loc):
        if self._unique(("Device", spec["cluster"], meta.name), loc,
                        f"device {meta.name!r} in cluster {spec['cluster']!r}"):
            self.devices.append(_device(spec, meta.name, spec["cluster"], loc))

    def _add_Project(self, data, meta, spec, loc):
        if self._unique(("Project", meta.name), loc, f"Project {meta.name!r}"):
            quota = spec.get("quota") or {}
            self.model.projects[meta.name] = Project(
                meta, quota.get("gpus"), dict(quota.get("gpusByProduct") or {}),
                parameter_settings(spec.get("parameters") or {}, loc.at("spec", "parameters")))

    def _add_Environment(self, data, meta, spec, loc):
        if not self._unique(("Environment", meta.name), loc, f"Environment {meta.name!r}"):
            return
        at = loc.at("spec")
        placement = spec.get("placement") or {}
        namespace = spec.get("namespace") or {}
        defaults = spec.get("defaults") or {}
        policy = spec.get("policy") or {}
        rollout = spec.get("rollout") or {}
        for message, where in _selector_problems(placement.get("clusterSelector"),
                                                 at.at("placement", "clusterSelector")):
            self.diagnostics.error("E212", message, where)
        for i, wave in enumerate(rollout.get("waves") or ()):
            for message, where in _selector_problems(wave.get("clusterSelector"),
                                                     at.at("rollout", "waves", i, "clusterSelector")):
                self.diagnostics.error("E212", message, where)
        for i, tol in enumerate(placement.get("tolerations") or ()):
            if tol.get("operator") == "Exists" and "value" in tol:
                self.diagnostics.error("E212", "a toleration with operator Exists takes no value",
                                       at.at("placement", "tolerations", i, "value"))
            if tol.get("operator", "Equal") == "Equal" and "key" not in tol:
                self.diagnostics.error("E212", "a toleration with operator Equal needs a key",
                                       at.at("placement", "tolerations", i))
        allowed = policy.get("allowedProfiles")
        self.model.environments[meta.name] = Environment(
            meta=meta, projects=tuple(spec.get("projects") or ()),
            selector=_selector(placement.get("clusterSelector")),
            number_of_clusters=placement.get("numberOfClusters"),
            prioritizers=tuple(Prioritizer(p["name"], p.get("weight", 1)) for p in placement.get("prioritizers") or ()),
            tolerations=tuple(Toleration(t.get("key"), t.get("operator", "Equal"), t.get("value"), t.get("effect"))
                              for t in placement.get("tolerations") or ()),
            spread_by=(placement.get("spread") or {}).get("by"),
            max_skew=(placement.get("spread") or {}).get("maxSkew", 1),
            namespace_strategy=namespace.get("strategy", "workload"),
            namespace_quota={k: str(v) for k, v in (namespace.get("quota") or {}).items()},
            isolation=namespace.get("isolation", "none"),
            parameters=parameter_settings(defaults.get("parameters") or {}, at.at("defaults", "parameters")),
            traits=_trait_uses(defaults.get("traits"), at.at("defaults", "traits"), "environment"),
            allowed_profiles=None if allowed is None else tuple(
                AllowedProfile(a["name"], a.get("versions"), at.at("policy", "allowedProfiles", i))
                for i, a in enumerate(allowed)),
            max_gpus_per_workload=policy.get("maxGPUsPerWorkload"),
            required_traits=tuple(policy.get("requiredTraits") or ()),
            allowed_registries=tuple(policy["allowedRegistries"]) if "allowedRegistries" in policy else None,
            rollout_strategy=rollout.get("strategy", "all"),
            waves=tuple(Wave(w["name"], _selector(w["clusterSelector"]) if "clusterSelector" in w else None,
                             w.get("percent")) for w in rollout.get("waves") or ()),
        )

    def _add_Workload(self, data, meta, spec, loc):
        key = (spec["project"], meta.name)
        if not self._unique(("Workload",) + key, loc, f"Workload {meta.name!r} in project {spec['project']!r}"):
            return
        at = loc.at("spec")
        self.model.workloads[key] = Workload(
            meta=meta, project=spec["project"], environment=spec["environment"], profile=spec["profile"]["name"],
            version_range=spec["profile"].get("version", "*"),
            parameters=parameter_settings(spec.get("parameters") or {}, at.at("parameters")),
            traits={c: _trait_uses(t, at.at("traits", c), "workload") for c, t in (spec.get("traits") or {}).items()})

    # after every document

    def finish(self, raw: RawRepo, foreign: list[RawDocument]) -> None:
        model = self.model
        model.definitions = {**builtins.definitions(), **model.definitions}
        self._attach_devices()
        model.clusters = dict(sorted(model.clusters.items()))
        model.workloads = dict(sorted(model.workloads.items()))
        model.folders = frozenset(posixpath.dirname(f) for f in raw.files)
        self._check_profiles(raw)
        self._check_clusters()
        self._check_environments()
        self._check_workloads()
        self._manifest_files(foreign)

    def _attach_devices(self) -> None:
        by_cluster: dict[str, list[Device]] = defaultdict(list)
        for device in self.devices:
            if device.cluster in self.model.clusters:
                by_cluster[device.cluster].append(device)
            elif ("Cluster", device.cluster) not in self.broken:
                self.diagnostics.error("E304", f"device {device.name!r} names unknown cluster {device.cluster!r}",
                                       device.loc.at("spec", "cluster"),
                                       schemacheck.did_you_mean(device.cluster, self.model.clusters))
        for name, devices in by_cluster.items():
            cluster = self.model.clusters[name]
            self.model.clusters[name] = Cluster(
                cluster.meta, cluster.source, cluster.cluster_profile, cluster.kubernetes_version, cluster.engine,
                cluster.taints, tuple(sorted(devices, key=lambda d: d.name)))

    def _unknown(self, what: str, kind: str, name: str, where: Location, choices: Iterable[str],
                 hint: str | None = None) -> None:
        if (kind, name) in self.broken:
            return
        self.diagnostics.error("E302", f"unknown {what} {name!r}", where,
                               hint or schemacheck.did_you_mean(name, choices))

    def _check_trait_types(self, uses: Iterable[TraitUse]) -> None:
        traits = [n for (k, n) in self.model.definitions if k == "trait"]
        for use in uses:
            if ("trait", use.type) not in self.model.definitions:
                self._unknown("trait", "TraitDefinition", use.type, use.loc.at("type"), traits)

    def _check_profiles(self, raw: RawRepo) -> None:
        model = self.model
        components = [n for (k, n) in model.definitions if k == "component"]
        for profile in self.profiles:
            names = [c.name for c in profile.components]
            for index, component in enumerate(profile.components):
                if names.index(component.name) != index:
                    self.diagnostics.error("E301", f"duplicate component name {component.name!r}",
                                           component.loc.at("name"))
                if ("component", component.type) not in model.definitions:
                    self._unknown("component type", "ComponentDefinition", component.type,
                                  component.loc.at("type"), components)
                self._check_trait_types(component.traits)
                for i, dep in enumerate(component.depends_on):
                    if dep not in names or dep == component.name:
                        self.diagnostics.error("E305", f"component {component.name!r} depends on "
                                               + ("itself" if dep == component.name else f"unknown component {dep!r}"),
                                               component.loc.at("dependsOn", i), schemacheck.did_you_mean(dep, names))
                self._check_component_paths(component, raw)
            cycle = graph.first_cycle({c.name: c.depends_on for c in profile.components})
            if cycle:
                first = next(c for c in profile.components if c.name == cycle[0])
                self.diagnostics.error("E305", "components depend on each other in a cycle: " + " -> ".join(cycle),
                                       first.loc.at("dependsOn"), "remove one of these dependsOn entries")
            for dep in profile.requires_profiles:
                available = model.profiles.get(dep.name)
                if available is None:
                    self._unknown("profile", "WorkloadProfile", dep.name, dep.loc.at("name"), model.profiles)
                elif versions.highest(available, dep.range) is None:
                    self.diagnostics.warning("W104", f"no version of profile {dep.name!r} matches {dep.range!r}: "
                                             f"{profile.meta.name} {profile.version} can never be deployed",
                                             dep.loc.at("version"), "published: " + ", ".join(
                                                 sorted(available, key=versions.sort_key)))

    def _check_component_paths(self, component: Component, raw: RawRepo) -> None:
        props = component.properties
        if component.type == "manifests":
            for i, path in enumerate(props.get("files") or ()):
                if not isinstance(path, str) or "{{" in path:
                    continue
                where = component.loc.at("properties", "files", i)
                try:
                    clean = normalize(path)
                except PathOutsideRepository:
                    self.diagnostics.error("E106", f"manifest file {path!r} is outside the repository", where)
                    continue
                if clean not in raw.texts:
                    self.diagnostics.error("E306", f"manifest file {path!r} not found in the input folders", where,
                                           "paths are relative to the repository root and must be YAML files "
                                           "under an input folder")
                else:
                    self.model.manifest_files.setdefault(clean, ManifestFile(clean, ()))
        if component.type == "kustomize":
            path = props.get("path")
            if isinstance(path, str) and "{{" not in path:
                where = component.loc.at("properties", "path")
                try:
                    clean = normalize(path)
                except PathOutsideRepository:
                    self.diagnostics.error("E106", f"kustomize path {path!r} is outside the repository", where)
                    return
                has_kustomization = any(f"{clean}/{n}" in raw.files for n in
                                        ("kustomization.yaml", "kustomization.yml", "Kustomization"))
                if not has_kustomization:
                    self.diagnostics.error("E306", f"no kustomization.yaml in folder {path!r}", where,
                                           "the folder must be under an input folder and hold a kustomization.yaml")

    def _check_clusters(self) -> None:
        model = self.model
        for cluster in model.clusters.values():
            if cluster.cluster_profile and cluster.cluster_profile not in model.cluster_profiles:
                name, version = cluster.cluster_profile
                if ("ClusterProfile", name) in self.broken:
                    continue
                known = sorted(v for (n, v) in model.cluster_profiles if n == name)
                self.diagnostics.error(
                    "E302", f"unknown cluster profile {name!r} version {version}",
                    cluster.meta.loc.at("spec", "clusterProfile"),
                    f"versions of {name!r}: {', '.join(known)}" if known else schemacheck.did_you_mean(
                        name, {n for n, _ in model.cluster_profiles})
                    or "no ClusterProfile has that name: add one (kind: ClusterProfile) under an input folder")

    def _check_environments(self) -> None:
        model = self.model
        traits = [n for (k, n) in model.definitions if k == "trait"]
        for env in model.environments.values():
            at = env.meta.loc.at("spec")
            for i, project in enumerate(env.projects):
                if project != "*" and project not in model.projects:
                    self._unknown("project", "Project", project, at.at("projects", i), model.projects)
            for allowed in env.allowed_profiles or ():
                if allowed.name not in model.profiles:
                    self._unknown("profile", "WorkloadProfile", allowed.name, allowed.loc.at("name"), model.profiles)
            for i, name in enumerate(env.required_traits):
                if ("trait", name) not in model.definitions:
                    self._unknown("trait", "TraitDefinition", name, at.at("policy", "requiredTraits", i), traits)
            self._check_trait_types(env.traits)

    def _check_workloads(self) -> None:
        model = self.model
        for workload in model.workloads.values():
            at = workload.meta.loc.at("spec")
            if workload.project not in model.projects:
                self._unknown("project", "Project", workload.project, at.at("project"), model.projects)
            if workload.environment not in model.environments:
                self._unknown("environment", "Environment", workload.environment, at.at("environment"),
                              model.environments)
            if workload.profile not in model.profiles:
                self._unknown("profile", "WorkloadProfile", workload.profile, at.at("profile", "name"),
                              model.profiles)
            for uses in workload.traits.values():
                self._check_trait_types(uses)

    def _manifest_files(self, foreign: list[RawDocument]) -> None:
        by_file: dict[str, list[tuple[dict, Location]]] = defaultdict(list)
        for doc in foreign:
            if doc.file in self.model.manifest_files:
                if not isinstance(doc.data.get("kind"), str) or not isinstance(doc.data.get("metadata"), dict):
                    self.diagnostics.error("E206", "a Kubernetes object needs apiVersion, kind and metadata",
                                           doc.loc)
                    continue
                by_file[doc.file].append((doc.data, doc.loc))
            else:
                self.diagnostics.error("E211", f"not an easel document (apiVersion {doc.data.get('apiVersion')!r})",
                                       doc.loc.at("apiVersion") if "apiVersion" in doc.data else doc.loc)
        for path in self.model.manifest_files:
            self.model.manifest_files[path] = ManifestFile(path, tuple(by_file.get(path, ())))
