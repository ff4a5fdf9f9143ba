"""easel.lock: the decisions a compile made, committed so that the next compile keeps them.

    apiVersion: easel.dev/v1alpha1
    kind: Lock
    placements:                 # workload -> the clusters it runs on (sticky: kept while they stay eligible)
      nlp/support-bot: [dc-east-1]
    devices:                    # workload -> cluster -> the devices its GPUs are booked on, per component (kept too)
      nlp/support-bot: {dc-east-1: "server: dc-east-1-node-1=4"}
    versions:                   # workload -> the profile version it runs (kept until `easel lock --update`)
      nlp/support-bot: llm-serving 1.3.0
    infrastructure:             # cluster -> the stacks easel deploys there for `requires.profiles`
      edge-fra-1: {gpu-operator: 24.9.0}
    rollouts:                   # workload -> a version on its way, wave by wave (environments with waves)
      nlp/support-bot: {from: 1.3.0, to: 1.4.0, wave: 1}
    stackRollouts:              # stack -> a version on its way to the clusters that run it, wave by wave
      gpu-operator: {from: 24.9.0, to: 24.9.2, wave: 1}
    profiles:                   # every profile version in use -> a digest of its content
      llm-serving 1.3.0: sha256:…
    charts:                     # every chart archive `easel charts pull` stored -> the digest of its bytes
      vllm/vllm-stack 0.1.7: sha256:…
    chartManifests:             # charts from OCI registries -> the digest of the manifest pulled (Flux pins it)
      nvidia/gpu-operator v24.9.0: sha256:…
    chartCommits:               # charts of Git repositories (folder name, ref) -> the commit they were read at
      ml-charts/inference main: 3f2a…

This module only parses, dumps and digests: the record itself is a Decisions value (decisions.py). A published
profile version must not change: a digest that no longer matches is an error (checked by validate).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from compiler.diagnostics import Diagnostic, Location, error
from compiler.load import yamlio
from compiler.load.source import LOCK_FILE
from compiler.model.charts import COMMIT_PATTERN, git_commit
from compiler.record.decisions import ClusterDecision, Decisions, Rollout, WorkloadDecision
from compiler.schemas.blocks import API_VERSION

if TYPE_CHECKING:
    from compiler.schemas.check import FastValidator

HEADER = ("# Written by easel (compile, lock): commit it with output/. It keeps placements and versions stable "
          "between compiles.\n")
_WORKLOAD = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_PROFILE_VERSION = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])? \S+$"
_CHART_VERSION = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[^/\s]+ \S+$"  # a Git chart's version is its ref: `feature/x`
_DIGEST = {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"}
# one workload's GPUs on one cluster, a line for a fleet of them: "server: node-1=4, node-2=2; api: node-3=1"
_NAME = r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?"
_DEVICES = rf"{_NAME}: {_NAME}=[1-9][0-9]*(, {_NAME}=[1-9][0-9]*)*"  # one component's
_BOOKING = rf"^{_DEVICES}(; {_DEVICES})*$"
_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["apiVersion", "kind"],
    "properties": {
        "apiVersion": {"const": API_VERSION},
        "kind": {"const": "Lock"},
        "placements": {"type": "object", "propertyNames": {"pattern": _WORKLOAD},
                       "additionalProperties": {"type": "array", "items": {"type": "string"}, "uniqueItems": True}},
        "devices": {"type": "object", "propertyNames": {"pattern": _WORKLOAD}, "additionalProperties": {
            "type": "object", "additionalProperties": {"anyOf": [
                {"type": "string", "pattern": _BOOKING},
                # as the first locks with devices wrote them: component -> device -> GPUs
                {"type": "object", "additionalProperties": {
                    "type": "object", "additionalProperties": {"type": "integer", "minimum": 1}}}]}}},
        "versions": {"type": "object", "propertyNames": {"pattern": _WORKLOAD},
                     "additionalProperties": {"type": "string", "pattern": _PROFILE_VERSION}},
        "infrastructure": {"type": "object", "additionalProperties": {
            "type": "object", "additionalProperties": {"type": "string"}}},
        "rollouts": {"type": "object", "propertyNames": {"pattern": _WORKLOAD}, "additionalProperties": {
            "type": "object", "additionalProperties": False, "required": ["from", "to", "wave"],
            "properties": {"from": {"type": "string"}, "to": {"type": "string"},
                           "wave": {"type": "integer", "minimum": 1}}}},
        "stackRollouts": {"type": "object", "propertyNames": {"pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                          "additionalProperties": {
                              "type": "object", "additionalProperties": False, "required": ["from", "to", "wave"],
                              "properties": {"from": {"type": "string"}, "to": {"type": "string"},
                                             "wave": {"type": "integer", "minimum": 1}}}},
        "profiles": {"type": "object", "propertyNames": {"pattern": _PROFILE_VERSION},
                     "additionalProperties": _DIGEST},
        "charts": {"type": "object", "propertyNames": {"pattern": _CHART_VERSION}, "additionalProperties": _DIGEST},
        "chartManifests": {"type": "object", "propertyNames": {"pattern": _CHART_VERSION},
                           "additionalProperties": _DIGEST},
        "chartCommits": {"type": "object", "propertyNames": {"pattern": _CHART_VERSION},
                         "additionalProperties": {"type": "string", "pattern": COMMIT_PATTERN}},
    },
}


def digest(document: Any) -> str:
    """A profile version's content digest: of its data, so comments and formatting do not count."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@functools.cache
def _validator() -> FastValidator:
    """The fast path the input documents use (fastjsonschema), jsonschema only to explain a failure."""
    from compiler.schemas import check as schemacheck

    return schemacheck.FastValidator(_SCHEMA)


def parse(text: str | None) -> tuple[Decisions, list[Diagnostic]]:
    """The decisions easel.lock records (None: there is no lock yet)."""
    from compiler.schemas import check as schemacheck

    if text is None:
        return Decisions(), []
    where = Location(LOCK_FILE)
    documents, problems = yamlio.parse(text)
    if problems or len(documents) != 1 or not isinstance(documents[0].data, dict):
        return Decisions(), [error("E108", f"{LOCK_FILE} cannot be read"
                                   + (f": {problems[0].message}" if problems else ""),
                                   Location(LOCK_FILE, line=problems[0].line if problems else None,
                                            column=problems[0].column if problems else None))]
    data: Any = documents[0].data
    found = schemacheck.check(_validator(), data, where)
    if found:
        return Decisions(), [error("E108", f"{LOCK_FILE}: {d.message}", d.location) for d in found]
    placements = data.get("placements") or {}
    devices = {w: {c: _booking(line) for c, line in on.items()}  # absent from locks written before easel recorded
               for w, on in (data.get("devices") or {}).items()}  # devices
    versions = {w: _profile_version(text) for w, text in (data.get("versions") or {}).items()}
    rollouts = {w: _rollout(r) for w, r in (data.get("rollouts") or {}).items()}
    workloads = {w: WorkloadDecision(w, *versions.get(w, (None, None)),
                                     clusters=tuple(placements[w]) if w in placements else None,
                                     rollout=rollouts.get(w), devices=devices.get(w, {}))
                 for w in sorted({*placements, *versions, *rollouts})}
    return Decisions(
        workloads=workloads,
        clusters={cluster: ClusterDecision(dict(stacks))
                  for cluster, stacks in (data.get("infrastructure") or {}).items()},
        digests={tuple(key.split(" ", 1)): value for key, value in (data.get("profiles") or {}).items()},
        stack_rollouts={s: _rollout(r) for s, r in (data.get("stackRollouts") or {}).items()},
        charts={chart_key(key): value for key, value in (data.get("charts") or {}).items()},
        # an OCI chart's manifest digest and a Git chart's commit are one record (decisions.py); absent from
        # locks written before easel pinned them
        chart_manifests={chart_key(key): value for section in ("chartManifests", "chartCommits")
                         for key, value in (data.get(section) or {}).items()},
    ), []


def chart_key(text: str) -> tuple[str, str, str]:
    """(repository, chart, version) of a `charts` key, `<repository>/<chart> <version>`."""
    name, _, version = text.partition(" ")
    repository, _, chart = name.partition("/")
    return repository, chart, version


def chart_text(key: tuple[str, str, str]) -> str:
    return f"{key[0]}/{key[1]} {key[2]}"


def dump(decisions: Decisions) -> str:
    data: dict[str, Any] = {"apiVersion": API_VERSION, "kind": "Lock"}
    workloads = sorted(decisions.workloads.items())
    data["placements"] = {w: list(d.clusters) for w, d in workloads if d.clusters is not None}
    if any(d.devices for _, d in workloads):
        data["devices"] = {w: {c: _booking_line(booked) for c, booked in d.devices.items()}
                           for w, d in workloads if d.devices}
    data["versions"] = {w: f"{d.profile} {d.version}" for w, d in workloads if d.version is not None}
    data["infrastructure"] = {cluster: dict(sorted(d.stacks.items()))
                              for cluster, d in sorted(decisions.clusters.items()) if d.stacks}
    data["rollouts"] = {w: _rollout_data(d.rollout) for w, d in workloads if d.rollout is not None}
    if decisions.stack_rollouts:
        data["stackRollouts"] = {s: _rollout_data(r) for s, r in sorted(decisions.stack_rollouts.items())}
    data["profiles"] = {f"{profile} {version}": value
                        for (profile, version), value in sorted(decisions.digests.items())}
    if decisions.charts:
        data["charts"] = {chart_text(key): value for key, value in sorted(decisions.charts.items())}
    manifests = {chart_text(key): value for key, value in sorted(decisions.chart_manifests.items())
                 if git_commit(value) is None}
    commits = {chart_text(key): value for key, value in sorted(decisions.chart_manifests.items())
               if git_commit(value) is not None}
    if manifests:
        data["chartManifests"] = manifests
    if commits:
        data["chartCommits"] = commits
    return HEADER + yamlio.dump({key: value for key, value in data.items() if value != {}})  # no empty sections


def _profile_version(text: str) -> tuple[str | None, str | None]:
    """`versions: {w: "profile 1.2.0"}`: the profile and the version it runs."""
    profile, _, version = text.partition(" ")
    return profile, version or None


def _rollout(data: dict[str, Any]) -> Rollout:
    """A workload's or a stack's rollout as the lock keeps it: no waves (a compile works them out again)."""
    return Rollout(str(data["from"]), str(data["to"]), data["wave"])


def _rollout_data(rollout: Rollout) -> dict[str, Any]:
    return {"from": rollout.from_version, "to": rollout.to_version, "wave": rollout.wave}


def _booking_line(booked: Mapping[str, Mapping[str, int]]) -> str:
    """component -> device -> GPUs as one line (the schema's _BOOKING): a fleet's lock stays a line per placement."""
    return "; ".join(f"{component}: " + ", ".join(f"{device}={count}" for device, count in on.items())
                     for component, on in booked.items())


def _booking(line: str | Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    if not isinstance(line, str):
        return {component: dict(on) for component, on in line.items()}
    found: dict[str, dict[str, int]] = {}
    for part in line.split("; "):
        component, _, devices = part.partition(": ")
        found[component] = {device: int(count) for device, _, count in
                            (entry.partition("=") for entry in devices.split(", "))}
    return found
