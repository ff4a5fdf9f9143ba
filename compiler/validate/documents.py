"""Each document of an easel kind, checked against its schema and built into the typed model. A document that
fails its schema is left out (and remembered as broken, so references to it are not reported again)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jinja2 import TemplateSyntaxError

from compiler.definitions import templating
from compiler.diagnostics import Diagnostics, Location, Note
from compiler.kube import podtemplates
from compiler.load import RawDocument
from compiler.model import (
    AllowedProfile,
    Cluster,
    ClusterProfile,
    Component,
    Definition,
    Device,
    Environment,
    GpuFact,
    Layer,
    Meta,
    Model,
    PodTemplatePath,
    Prioritizer,
    ProfileDependency,
    Project,
    RegistryRules,
    Repository,
    Requirement,
    Selector,
    Taint,
    Toleration,
    TraitUse,
    Wave,
    Workload,
    WorkloadProfile,
    quantity,
    versions,
)
from compiler.record import lockfile
from compiler.schemas import KINDS
from compiler.schemas import check as schemacheck
from compiler.schemas.blocks import API_VERSION
from compiler.schemas.defaults import with_defaults
from compiler.validate.references import References
from compiler.validate.schema import DOCUMENT_KINDS, absent_defaults, schema, validator
from compiler.validate.settings import definition_schema, parameter_settings, pod_security, release_options


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


def _trait_uses(items: Iterable[dict[str, Any]] | None, loc: Location, origin: str) -> tuple[TraitUse, ...]:
    return tuple(TraitUse(t["type"], dict(t.get("properties") or {}), loc.at(i), origin)
                 for i, t in enumerate(items or ()))


def _gpu_facts(facts: dict[str, Any], tags: dict[str, Any]) -> tuple[GpuFact, ...]:
    """GPU facts with manual tags applied: a tag wins over the gathered fact of the same key."""
    gathered = [GpuFact(g.get("product"), quantity.parse(g["memory"]) if "memory" in g else None, g.get("count"),
                        (g.get("timeSlicing") or {}).get("replicas"), tuple(sorted((g.get("mig") or {}).items())),
                        tuple((g.get("dra") or {}).items()))
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
        count=tagged.get("gpu.count", base.count), time_slicing=base.time_slicing, mig=base.mig, dra=base.dra,
    ),)


def _device(spec: dict[str, Any], name: str, cluster: str, loc: Location) -> Device:
    facts = spec.get("facts") or {}
    tags = spec.get("tags") or {}
    memory = tags.get("memory", facts.get("memory"))
    return Device(
        name=name, cluster=cluster, role=spec["role"], state=spec["state"],
        arch=tags.get("arch", facts.get("arch")),
        cpu_cores=tags.get("cpu.cores", (facts.get("cpu") or {}).get("cores")),
        memory=quantity.parse(memory) if memory is not None else None,
        gpus=_gpu_facts(facts, tags), loc=loc,
        node_labels=dict(facts["nodeLabels"]) if isinstance(facts.get("nodeLabels"), dict) else None,
        product_from_tags="gpu.product" in tags and not any(g.get("product") for g in facts.get("gpus") or ()))


def _registry(spec: dict[str, Any]) -> RegistryRules:
    """A cluster's registry rules: a mirror without `allowed` allows itself alone (what it cannot rewrite must
    come from it too)."""
    mirror = spec["mirror"].rstrip("/") if spec.get("mirror") else None
    allowed = spec.get("allowed")
    return RegistryRules(mirror, tuple(allowed) if allowed is not None else (mirror,) if mirror else None)


class Builder(References):
    """Builds the model one document at a time; References checks what they name once all are in."""

    def __init__(self, model: Model, diagnostics: Diagnostics):
        self.model = model
        self.diagnostics = diagnostics
        self.seen: dict[tuple, Location] = {}  # identity -> first location, for duplicates
        self.broken: set[tuple[str, str]] = set()  # (kind, name) of documents left out after errors
        self.devices: list[Device] = []
        self.definitions: list[Definition] = []
        self.profiles: list[WorkloadProfile] = []
        self.checked: set[tuple[str, int]] = set()  # (file, index) of documents that passed their schema
        self.failed: list[tuple[str, dict[str, Any], Location]] = []  # (kind, data, where) of those that did not

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
        if kind not in DOCUMENT_KINDS:
            hint = schemacheck.did_you_mean(str(kind), DOCUMENT_KINDS)
            where = doc.loc.at("kind") if "kind" in data else doc.loc
            message = "missing kind" if kind is None else f"unknown kind {kind!r}"
            if kind == "Settings":
                message, hint = "Settings belong in easel.yaml at the repository root", None
            self.diagnostics.error("E202", message, where, hint)
            return
        problems = [] if doc.checked else schemacheck.check(validator(kind), data, doc.loc)
        if not problems:
            self.checked.add((doc.file, doc.index))
        if problems:
            self.diagnostics.extend(problems)
            self.failed.append((kind, data, doc.loc))
            name = (data.get("metadata") or {}).get("name") if isinstance(data.get("metadata"), dict) else None
            if isinstance(name, str):
                self.broken.add((kind, name))
            return
        # the builders read the spec with its defaults filled in; data stays the file's content (the cache's, and
        # what a profile's digest is of)
        spec = with_defaults(schema(kind), data)["spec"]
        getattr(self, f"_add_{kind}")(data, _meta(data, doc.loc), spec, doc.loc)

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
            ref = next(iter((spec.get("ref") or {}).items()), None)
            self.model.repositories[meta.name] = Repository(meta, spec["type"], spec["url"], spec.get("secretRef"),
                                                            ref)
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
        pod_templates = self._pod_templates(spec.get("podTemplates") or [], loc)
        if pod_templates is None:
            self.broken.add((label, meta.name))
            return
        self.model.definitions[(kind, meta.name)] = Definition(meta, kind, parameters, spec["template"],
                                                               pod_templates=pod_templates,
                                                               pods_declared="podTemplates" in spec)

    def _pod_templates(self, entries: list[dict[str, Any]], loc) -> tuple[PodTemplatePath, ...] | None:
        for index, entry in enumerate(entries):
            problem = podtemplates.declared_problem(entry)
            if problem is not None:
                field, message, hint = problem
                self.diagnostics.error("E206", message, loc.at("spec", "podTemplates", index, field), hint)
                return None
        return podtemplates.declared_paths(entries)

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
        for name, declared in (spec.get("parameters") or {}).items():  # each a JSON Schema: checked as one first
            problem = schemacheck.schema_problem(declared) if isinstance(declared, dict) else None
            if problem:
                self.diagnostics.error("E206", f"parameter {name!r} is not a valid JSON Schema: {problem}",
                                       at.at("parameters", name), "types are string, integer, number, boolean, "
                                       "array, object (JSON Schema Draft 2020-12)")
                return
        components = tuple(Component(
            name=c["name"], type=c["type"], properties=dict(c.get("properties") or {}),
            traits=_trait_uses(c.get("traits"), at.at("components", i, "traits"), "profile"),
            depends_on=tuple(c.get("dependsOn") or ()), loc=at.at("components", i),
            release=release_options(c.get("release")))
            for i, c in enumerate(spec["components"]))
        requires = spec.get("requires") or {}
        profile = WorkloadProfile(
            meta=meta, version=version, type=spec["type"],
            parameters={k: dict(v) for k, v in (spec.get("parameters") or {}).items()},
            kubernetes=requires.get("kubernetes"), arch=requires.get("arch"),
            requires_profiles=tuple(ProfileDependency(p["name"], p["version"],
                                                      at.at("requires", "profiles", i))
                                    for i, p in enumerate(requires.get("profiles") or ())),
            components=components, digest=lockfile.digest(data))
        self.model.profiles.setdefault(meta.name, {})[version] = profile
        self.profiles.append(profile)

    def _add_ClusterProfile(self, data, meta, spec, loc):
        key = (meta.name, spec["version"])
        if self._unique(("ClusterProfile", *key), loc, f"ClusterProfile {meta.name!r} version {spec['version']}"):
            layers = tuple(Layer(layer["type"], layer["name"], layer["version"], tuple(layer.get("crds") or ()))
                           for layer in spec.get("layers") or ())
            profile = ClusterProfile(meta, spec["version"], layers)
            self.model.cluster_profiles[key] = profile
            k8s = profile.kubernetes_version
            if k8s is not None and versions.kubernetes_version(k8s) is None:
                index = next(i for i, layer in enumerate(layers) if layer.type == "kubernetes")
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
            devices=(), crds=tuple(spec.get("crds") or ()),
            gpu_allocation=(spec.get("gpu") or {}).get("allocation"), registry=_registry(spec.get("registry") or {}),
            render=(spec.get("gitops") or {}).get("render"))

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
        namespace = spec["namespace"]
        defaults = spec.get("defaults") or {}
        policy = spec.get("policy") or {}
        rollout = spec["rollout"]
        spread = placement.get("spread") or absent_defaults("Environment", "placement", "spread")
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
            if tol["operator"] == "Equal" and "key" not in tol:
                self.diagnostics.error("E212", "a toleration with operator Equal needs a key",
                                       at.at("placement", "tolerations", i))
        allowed = policy.get("allowedProfiles")
        self.model.environments[meta.name] = Environment(
            meta=meta, projects=tuple(spec.get("projects") or ()),
            selector=_selector(placement.get("clusterSelector")),
            number_of_clusters=placement.get("numberOfClusters"),
            prioritizers=tuple(Prioritizer(p["name"], p["weight"]) for p in placement.get("prioritizers") or ()),
            tolerations=tuple(Toleration(t.get("key"), t["operator"], t.get("value"), t.get("effect"))
                              for t in placement.get("tolerations") or ()),
            spread_by=spread.get("by"), max_skew=spread["maxSkew"],
            namespace_strategy=namespace["strategy"],
            namespace_quota={k: str(v) for k, v in (namespace.get("quota") or {}).items()},
            isolation=namespace["isolation"],
            allow_from=tuple(namespace.get("allowFrom") or ()), egress=namespace["egress"],
            egress_cidrs=tuple((namespace.get("egressAllow") or {}).get("cidrs") or ()),
            egress_namespaces=tuple((namespace.get("egressAllow") or {}).get("namespaces") or ()),
            pod_security=pod_security(namespace.get("podSecurity")),
            release=release_options(defaults.get("release")), render=(spec.get("gitops") or {}).get("render"),
            parameters=parameter_settings(defaults.get("parameters") or {}, at.at("defaults", "parameters")),
            traits=_trait_uses(defaults.get("traits"), at.at("defaults", "traits"), "environment"),
            allowed_profiles=None if allowed is None else tuple(
                AllowedProfile(a["name"], a.get("versions"), at.at("policy", "allowedProfiles", i))
                for i, a in enumerate(allowed)),
            max_gpus_per_workload=policy.get("maxGPUsPerWorkload"),
            required_traits=tuple(policy.get("requiredTraits") or ()),
            allowed_registries=tuple(policy["allowedRegistries"]) if "allowedRegistries" in policy else None,
            rollout_strategy=rollout["strategy"],
            waves=tuple(Wave(w["name"], _selector(w["clusterSelector"]) if "clusterSelector" in w else None,
                             w.get("percent")) for w in rollout.get("waves") or ()),
        )

    def _add_Workload(self, data, meta, spec, loc):
        key = (spec["project"], meta.name)
        if not self._unique(("Workload", *key), loc, f"Workload {meta.name!r} in project {spec['project']!r}"):
            return
        at = loc.at("spec")
        self.model.workloads[key] = Workload(
            meta=meta, project=spec["project"], environment=spec["environment"], profile=spec["profile"]["name"],
            version_range=spec["profile"]["version"],
            parameters=parameter_settings(spec.get("parameters") or {}, at.at("parameters")),
            traits={c: _trait_uses(t, at.at("traits", c), "workload") for c, t in (spec.get("traits") or {}).items()})

    # after every document
