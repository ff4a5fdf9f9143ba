"""The references between documents, checked once every document is in the model: unknown names (with a
did-you-mean), duplicate components, dependsOn cycles, files and folders components name, devices of unknown
clusters, and the manifest files `manifests` components use."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from compiler.definitions import builtins
from compiler.diagnostics import Diagnostics, Location
from compiler.load import RawDocument, RawRepo
from compiler.load.source import PathOutsideRepository, normalize
from compiler.model import Component, Device, ManifestFile, Model, TraitUse, WorkloadProfile, graph, versions
from compiler.schemas import check as schemacheck
from compiler.validate import folders
from compiler.validate.uses import problems as use_problems


class References:
    model: Model
    diagnostics: Diagnostics
    broken: set[tuple[str, str]]
    failed: list[tuple[str, dict[str, Any], Location]]
    devices: list[Device]
    profiles: list[WorkloadProfile]

    def finish(self, raw: RawRepo, foreign: list[RawDocument]) -> None:
        model = self.model
        model.definitions = {**builtins.definitions(), **model.definitions}
        for kind, data, loc in self.failed:  # left out: what resolving would check of their uses, checked now
            self.diagnostics.extend(use_problems(kind, data, loc, model.definitions))
        self._attach_devices()
        model.clusters = dict(sorted(model.clusters.items()))
        model.workloads = dict(sorted(model.workloads.items()))
        model.kustomize_folders = folders.kustomize_folders(raw, self.diagnostics)
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
            self.model.clusters[name] = dataclasses.replace(cluster,
                                                            devices=tuple(sorted(devices, key=lambda d: d.name)))

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
            for needed in profile.requires_profiles:
                available = model.profiles.get(needed.name)
                if available is None:
                    self._unknown("profile", "WorkloadProfile", needed.name, needed.loc.at("name"), model.profiles)
                elif versions.highest(available, needed.range) is None:
                    self.diagnostics.warning("W104", f"no version of profile {needed.name!r} matches "
                                             f"{needed.range!r}: {profile.meta.name} {profile.version} can never "
                                             "be deployed",
                                             needed.loc.at("version"), "published: " + ", ".join(
                                                 sorted(available, key=versions.sort_key)))

    def _check_component_paths(self, component: Component, raw: RawRepo) -> None:
        props = component.properties
        if component.type == "manifests":
            listed = props.get("files")
            for i, path in enumerate(listed if isinstance(listed, list) else ()):  # not a list: the schema says so
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
                if clean not in self.model.kustomize_folders:
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
            if any(doc.file.startswith(f"{folder}/") for folder in self.model.kustomize_folders):
                continue  # a kustomize folder (a component names it, maybe through a parameter): kustomize reads it
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
