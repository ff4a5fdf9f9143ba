"""`easel explain`: why a workload resolved and landed as it did, or what a cluster offers and holds.

Builds plain data (the JSON form); the text form is printed from the same data.
"""

from __future__ import annotations

from typing import Any

from compiler.diagnostics import Location, positions
from compiler.model import quantity, versions
from compiler.pipeline import Result


def _where(loc: Location | None, result: Result) -> dict[str, Any]:
    """Where something is written, in the fields diagnostics use: file (relative to the repository), line and
    column (from 1); each null when not known."""
    if loc is None or not loc.file or loc.file.startswith("<"):
        return {"file": None, "line": None, "column": None}
    found = positions.resolve(loc, result.texts.get(loc.file))
    return {"file": loc.file, "line": found[0] if found else None, "column": found[1] if found else None}


def at(where: dict[str, Any]) -> str:
    """`file:line:column` of a _where, as far as it is known."""
    return ":".join(str(part) for part in (where["file"], where["line"], where["column"]) if part is not None)


def workload_report(result: Result, workload) -> dict[str, Any]:
    decision = result.decisions.workloads.get(workload.id)
    resolved = result.resolutions.workload(workload.id, decision.version) if decision else None
    report: dict[str, Any] = {
        "workload": workload.id,
        **_where(workload.meta.loc, result),
        "project": workload.project,
        "environment": workload.environment,
        "profile": _profile(result, workload, decision, resolved),
    }
    if resolved is None:
        report["status"] = "not resolved: see `easel validate`"
        return report
    report.update(_resolved(result, resolved))
    report["placement"] = _placement(result, decision, resolved)
    return report


def _profile(result: Result, workload, decision, resolved) -> dict[str, Any]:
    model = result.require_model()
    environment = model.environments.get(workload.environment)
    available = sorted(model.profiles.get(workload.profile, {}), key=versions.sort_key)
    allowed = None
    if environment and environment.allowed_profiles is not None:
        entry = next((a for a in environment.allowed_profiles if a.name == workload.profile), None)
        allowed = (entry.versions or "*") if entry else "not allowed"
    return {"name": workload.profile, "range": workload.version_range, "allowedByEnvironment": allowed,
            "available": available, "resolved": resolved.profile.version if resolved else None,
            "locked": result.previous.workload(workload.id).version,
            "rollout": ({"from": decision.rollout.from_version, "to": decision.rollout.to_version,
                         "wave": decision.rollout.wave, "waves": len(resolved.environment.waves)}
                        if resolved and decision.rollout else None),
            **({"checkedWithoutWorkload": unrun} if (unrun := _checked_unrun(result, workload.profile)) else {})}


def _checked_unrun(result: Result, profile: str) -> list[dict[str, Any]]:
    """The profile's versions no workload runs in an environment that allows them, and how each was checked there
    (pipeline.py `_published`): the clusters it was proven on, one per set of facts, and the parameters that had
    no value (given a stand-in value; what their templates give is not checked)."""
    return [{"version": stand_in.profile.version, "environment": stand_in.environment.meta.name,
             "project": stand_in.project.meta.name, "clusters": [g.representative for g in groups],
             "standingFor": sum(len(g.clusters) for g in groups), "fromExamples": list(stand_in.examples),
             "withoutValue": [name for name, _ in stand_in.unset]}
            for stand_in, groups in result.published if stand_in.profile.meta.name == profile]


def _resolved(result: Result, resolved) -> dict[str, Any]:
    return {
        "namespace": resolved.namespace,
        "parameters": [{"name": p.name, "value": p.value, "layer": p.layer, "locked": p.locked,
                        "setAt": _where(p.loc, result)} for p in resolved.parameters.values()],
        "gpus": {"total": resolved.total_gpus, "demands": [
            {"component": d.component, "perReplica": d.ask.count, "replicas": d.replicas,
             "products": list(d.ask.products),
             "minMemory": f"{quantity.format_gi(d.ask.min_memory)}Gi" if d.ask.min_memory else None,
             "sharing": d.ask.sharing} for d in resolved.gpu_demands]},
        "components": [{
            "name": c.name, "type": c.type, "instance": c.instance, "wave": c.wave, "dependsOn": list(c.depends_on),
            **({"chart": {"repository": c.output.helm.repository or None, "chart": c.output.helm.chart,
                          "version": c.output.helm.version,
                          **({"path": c.output.helm.path} if c.output.helm.path else {}),
                          # what an upgrade does with the chart's CRDs on Flux (Argo CD applies them every sync)
                          "crds": c.release.crds or "Create"}} if c.output.helm else {}),
            # the target and container easel chose in the rendered chart where the component names none
            **({"found": {"kind": c.found.kind, "name": c.found.name, "container": c.found.container,
                          "foundInRenderedChart": list(c.found.found)}} if c.found else {}),
            "traits": [t.type for t in c.traits]} for c in resolved.components],
    }


def _placement(result: Result, decision, resolved) -> dict[str, Any]:
    placement, policy = decision.placement, decision.policy  # the policy as decide applied it, defaults and all
    found: dict[str, Any] = {
        "numberOfClusters": policy.number_of_clusters if policy else None,
        "prioritizers": [{"name": p.name, "weight": p.weight} for p in (policy.prioritizers if policy else ())],
        "placed": bool(placement and placement.placed),
        "clusters": [],
    }
    if placement is None:
        found["status"] = "not placed: the repository has errors (see `easel validate`)"
        return found
    reasons, passed = placement.reasons, set(placement.passed)
    ties = _ties(decision, placement)
    for name in result.fleet:
        entry: dict[str, Any] = {"cluster": name}
        if name in (decision.clusters or ()):
            entry["verdict"] = "chosen"
            entry["kept"] = name in placement.kept  # it already ran there (easel.lock)
            entry["score"] = placement.scores.get(name)
            if ties.get(name):
                entry["tiedWith"] = ties[name]  # eligible, not chosen, with its score: the name broke the tie
            entry["version"] = decision.version_on(name)  # mid-rollout, what this cluster runs and books
            entry["gpus"] = [{"component": a.component, "product": a.product, "count": a.count,
                              **({"pool": a.pool} if a.pool != a.product else {}),
                              "devices": [{"device": device, "count": count} for device, count in a.devices]}
                             for a in decision.allocations.get(name, ())]
            entry["gpuAllocation"] = result.fleet[name].gpu_allocation
            planned = (result.plans.clusters[name].release(resolved.id)
                       if result.plans and resolved is not None and name in result.plans.clusters else None)
            entry["render"] = planned.render if planned is not None else None  # how its charts reach the cluster
            entry["output"] = _output_paths(result, name, resolved)
        else:
            entry["verdict"] = "eligible" if name in passed else "passed over"
            if name in placement.scores:
                entry["score"] = placement.scores[name]
            entry["reason"] = _passed_over(name, decision, placement, ties) if name in reasons else None
        found["clusters"].append(entry)
    return found


def _added(decision, placement) -> list[str]:
    """The clusters chosen by score: not kept from easel.lock."""
    return [c for c in decision.clusters or () if c not in placement.kept and c in placement.scores]


def _ties(decision, placement) -> dict[str, list[str]]:
    """Each cluster chosen by score -> the eligible clusters not chosen with the same score (the name broke the
    tie: of equal scores the first names are chosen). None when spreading over a label chose."""
    if placement.passed_reason is None or getattr(placement.passed_reason, "spread_by", None):
        return {}
    return {c: [p for p in placement.passed if placement.scores.get(p) == placement.scores[c]]
            for c in _added(decision, placement)}


def _passed_over(name: str, decision, placement, ties: dict[str, list[str]]) -> str:
    """Why a cluster was passed over; of an eligible one passed over by score, in the words that fit it: a tie
    broken by name, a lower score, or every cluster wanted kept from easel.lock."""
    reason = placement.reasons[name]
    if name not in placement.passed or reason is not placement.passed_reason or getattr(reason, "spread_by", None):
        return str(reason)
    tied = sorted(c for c, others in ties.items() if name in others)
    if tied:
        return (f"eligible, tied with {', '.join(tied)} on score {placement.scores[name]}: of equal scores the first "
                "name is chosen")
    if not _added(decision, placement):
        return f"eligible, but the {len(placement.kept)} cluster(s) wanted are kept from easel.lock"
    if name in placement.scores:
        return f"eligible, but score {placement.scores[name]}: clusters with a higher score were chosen"
    return "eligible, but clusters ranked before it (by score, then name) were chosen"


def chosen_why(entry: dict[str, Any]) -> str:
    """Why a chosen cluster was: kept from easel.lock, or its score (and a tie the name broke)."""
    if entry.get("kept"):
        return "kept from easel.lock"
    tied = entry.get("tiedWith")
    return f"score {entry['score']}" + (f", tied with {', '.join(tied)}: the first name" if tied else "")


def taken_text(gpus: list[dict[str, Any]]) -> str:
    """The GPUs a workload takes on a cluster, and the devices its pods were packed on: "2 × NVIDIA-T4 (1 on
    device 'a', 1 on 'b')"."""
    def on(devices: list[dict[str, Any]]) -> str:
        if not devices:
            return ""
        first, *rest = devices
        return (f" ({first['count']} on device {first['device']!r}"
                + "".join(f", {d['count']} on {d['device']!r}" for d in rest) + ")")
    return ", ".join(f"{g['count']} × {g.get('pool', g['product'])}{on(g.get('devices', []))}" for g in gpus)


def _output_paths(result: Result, cluster: str, resolved) -> list[str]:
    if not result.files:
        return []
    prefix = f"clusters/{cluster}/{resolved.path}/"
    out = result.require_model().settings.output
    return [f"{out}/{p}" for p in result.files if p.startswith(prefix)]


def workload_text(report: dict[str, Any], every_cluster: bool = False) -> str:
    lines = [f"workload {report['workload']}  ({at(report)})",
             f"  project {report['project']}, environment {report['environment']}", *_profile_lines(report["profile"])]
    if "status" in report:
        lines.append(f"  {report['status']}")
        return "\n".join(lines)
    return "\n".join([*lines, *_resolved_lines(report), "", *_placement_lines(report["placement"], every_cluster)])


def _profile_lines(profile: dict[str, Any]) -> list[str]:
    allowed = f"; environment allows {profile['allowedByEnvironment']!r}" if profile["allowedByEnvironment"] else ""
    chosen = f"  profile {profile['name']} {profile['resolved'] or '(unresolved)'}: "
    if profile["locked"] and profile["locked"] == profile["resolved"]:
        lines = [chosen + f"kept from easel.lock (published: {', '.join(profile['available'])}; the workload "
                 f"asks {profile['range']!r}{allowed})"]
    else:
        lines = [chosen + f"highest of [{', '.join(profile['available'])}] within {profile['range']!r}{allowed}"]
    if profile["rollout"]:
        r = profile["rollout"]
        lines.append(f"  rollout to {r['to']}: wave {r['wave']} of {r['waves']} (see `easel rollout status`)")
    for c in profile.get("checkedWithoutWorkload", ()):
        where = (f"on {', '.join(c['clusters'])}, one cluster per set of cluster facts ({c['standingFor']} in all)"
                 if c["clusters"] else "and resolved only: no cluster there could take it")
        values = "".join(f"; {name} from its examples" for name in c["fromExamples"]) + "".join(
            f"; {name} has no value: what its templates give is not checked" for name in c["withoutValue"])
        lines.append(f"  {c['version']} (no workload runs it in {c['environment']}): checked as a workload of project "
                     f"{c['project']} {where}{values}")
    return lines


def _resolved_lines(report: dict[str, Any]) -> list[str]:
    lines = [f"  namespace {report['namespace']}", "", "parameters (value, and the layer that set it):"]
    width = max((len(p["name"]) for p in report["parameters"]), default=4)
    for p in report["parameters"]:
        lock = ", locked" if p["locked"] else ""
        lines.append(f"  {p['name']:<{width}}  {p['value']!r}  ← {p['layer']}{lock} ({at(p['setAt'])})")
    if not report["parameters"]:
        lines.append("  (none)")
    lines += ["", "components:"]
    for c in report["components"]:
        named = c.get("chart") or {}
        chart = "" if not named else (
            f" {named['path']}: in-house chart {named['chart']} {named['version']}" if "path" in named
            else f" {named['repository']}/{named['chart']} {named['version']}") + (
            f"; its CRDs on upgrade: {named['crds']} (Flux), applied every sync (Argo CD)" if named else "")
        after = f", after {', '.join(c['dependsOn'])}" if c["dependsOn"] else ""
        traits = ", ".join(c["traits"]) or "no traits"
        lines.append(f"  {c['name']} ({c['type']}{chart}{after}): {traits}")
        if "found" in c:
            lines.append(f"    {found_text(c['found'])}")
    gpus = report["gpus"]
    if gpus["total"]:
        asks = "; ".join(f"{d['component']}: {d['perReplica']} × {d['replicas']} replica(s)"
                         + (f" of {' or '.join(d['products'])}" if d["products"] else "")
                         + (f", ≥{d['minMemory']} each" if d["minMemory"] else "") for d in gpus["demands"])
        lines.append(f"  GPUs per cluster: {gpus['total']} ({asks})")
    return lines


def found_text(found: dict[str, Any]) -> str:
    """`target Deployment 'server', container 'vllm' (found in the rendered chart)`: what easel chose in a chart
    whose component names neither (or the one of them found, where it names the other)."""
    which = found["foundInRenderedChart"]
    said = "found" if len(which) == 2 else f"the {which[0]} found"
    container = f", container {found['container']!r}" if found["container"] else ""
    return f"target {found['kind']} {found['name']!r}{container} ({said} in the rendered chart)"


LISTED = 20  # clusters listed one by one without --all; past that the rest are counted (by reason)


def _placement_lines(placement: dict[str, Any], every_cluster: bool = False) -> list[str]:
    count = placement["numberOfClusters"]
    prioritizers = ", ".join(f"{p['name']}×{p['weight']}" for p in placement["prioritizers"])
    lines = [(f"placement ({'every eligible cluster' if count is None else f'{count} cluster(s)'}; "
             f"prioritizers {prioritizers}):")]
    if "status" in placement:
        lines.append(f"  {placement['status']}")
    clusters = placement["clusters"]
    shown = clusters if every_cluster or len(clusters) <= LISTED else clusters[:LISTED]
    width = max((len(c["cluster"]) for c in shown), default=4)
    for c in shown:
        if c["verdict"] == "chosen":
            gpus_taken = taken_text(c["gpus"])
            taken = f"; takes {gpus_taken}" + (" through DRA claims" if c.get("gpuAllocation") == "dra" else "") \
                if gpus_taken else ""
            why = chosen_why(c)
            hydrated = "; charts hydrated" if c.get("render") == "hydrated" else ""
            lines.append(f"  ✓ {c['cluster']:<{width}}  chosen ({why}); runs {c['version']}{taken}{hydrated}")
            if len(shown) == len(clusters):
                lines += [f"      {path}" for path in c.get("output", [])]
        else:
            mark = "·" if c["verdict"] == "eligible" else "✗"
            lines.append(f"  {mark} {c['cluster']:<{width}}  {c['reason']}")
    if len(shown) < len(clusters):
        rest = clusters[len(shown):]
        chosen = sum(1 for c in rest if c["verdict"] == "chosen")
        reasons: dict[str, int] = {}
        for c in rest:
            if c["verdict"] != "chosen":
                reasons[c["reason"]] = reasons.get(c["reason"], 0) + 1
        lines.append(f"  … and {len(rest):,} more clusters: {chosen:,} chosen"
                     + "".join(f"; {n:,} {why}" for why, n in sorted(reasons.items(), key=lambda r: -r[1])[:5])
                     + (f"; {len(reasons) - 5} other reasons" if len(reasons) > 5 else ""))
        lines.append("  (`--all` lists every cluster with its output files; `--format json` gives them all)")
    if not placement["placed"] and "status" not in placement:
        lines.append("  not placed")
    return lines


def cluster_report(result: Result, name: str) -> dict[str, Any]:
    facts = result.fleet[name]
    cluster = facts.cluster
    holders: dict[str, list[dict[str, Any]]] = {}
    booked: dict[str, list[dict[str, Any]]] = {}  # device -> what placement packed on it
    workloads = []
    for workload_id, decision in result.decisions.workloads.items():
        if decision.placement is not None and name in (decision.clusters or ()):
            workloads.append(workload_id)
            for allocation in decision.allocations.get(name, ()):
                holders.setdefault(allocation.pool, []).append(
                    {"workload": workload_id, "component": allocation.component, "count": allocation.count})
                for device, count in allocation.devices:
                    booked.setdefault(device, []).append(
                        {"workload": workload_id, "component": allocation.component, "pool": allocation.pool,
                         "count": count, "version": decision.version_on(name)})
    gpus = []
    for key, pool in facts.gpus.items():
        used = sum(h["count"] for h in holders.get(key, []))
        gpus.append({"product": pool.product, "sharing": pool.mode,
                     "memoryGi": quantity.format_gi(pool.memory) if pool.memory else None,
                     "total": pool.total, "allocated": used, "free": pool.total - used,
                     "largestDevice": pool.largest_device, "allocatedTo": holders.get(key, [])})
    return {
        "cluster": name, **_where(cluster.meta.loc, result), "source": cluster.source,
        "engine": facts.engine, "kubernetesVersion": facts.kubernetes_version, "gpuAllocation": facts.gpu_allocation,
        "clusterProfile": "/".join(cluster.cluster_profile) if cluster.cluster_profile else None,
        "taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in cluster.taints],
        "labels": facts.labels,
        "devices": [{"name": d.name, "role": d.role, "state": d.state, "arch": d.arch, "cpuCores": d.cpu_cores,
                     "memoryGi": quantity.format_gi(d.memory) if d.memory is not None else None,
                     "gpus": [{"product": g.product, "count": g.count,
                               "memoryGi": quantity.format_gi(g.memory) if g.memory else None} for g in d.gpus],
                     "booked": booked.get(d.name, [])}
                    for d in cluster.devices],
        "capacity": {"cpuCores": facts.cpu_cores, "memoryGi": quantity.format_gi(facts.memory), "gpus": gpus},
        "workloads": workloads,
    }


_ALLOCATION = {"device-plugin": "the device plugin (nvidia.com/gpu limits)",
               "dra": "DRA (resource.k8s.io/v1 claims)"}


def cluster_text(report: dict[str, Any]) -> str:
    lines = [f"cluster {report['cluster']}  ({at(report)})",
             f"  {report['source']}, engine {report['engine']}, Kubernetes {report['kubernetesVersion'] or 'unknown'}"
             + (f", cluster profile {report['clusterProfile']}" if report["clusterProfile"] else ""),
             f"  GPUs allocated through {_ALLOCATION[report['gpuAllocation']]}"]
    for taint in report["taints"]:
        value = f"={taint['value']}" if taint["value"] else ""
        lines.append(f"  taint {taint['key']}{value}:{taint['effect']}")
    lines.append("labels (own and derived):")
    for key, value in report["labels"].items():
        lines.append(f"  {key}: {value}")
    lines.append("devices:")
    for d in report["devices"]:
        gpus = ", ".join(f"{g['count'] if g['count'] is not None else '?'} × {g['product'] or 'unknown'}"
                         for g in d["gpus"]) or "no GPUs"
        lines.append(f"  {d['name']} ({d['role']}, {d['state']}): {d['arch'] or '?'} {d['cpuCores'] or '?'} cores, "
                     f"{d['memoryGi'] or '?'}Gi, {gpus}")
        if d["booked"]:
            lines.append("    booked: " + ", ".join(f"{b['count']} × {b['pool']} to {b['workload']} {b['component']} "
                                                    f"(at {b['version']})" for b in d["booked"]))
    capacity = report["capacity"]
    lines.append(f"capacity (ready devices): {capacity['cpuCores']} cores, {capacity['memoryGi']}Gi memory")
    for g in capacity["gpus"]:
        to = ", ".join(f"{h['workload']} ({h['count']})" for h in g["allocatedTo"]) or "nobody"
        sharing = "" if g["sharing"] == "exclusive" else f", {g['sharing']}"
        lines.append(f"  {g['product']} ({g['memoryGi']}Gi{sharing}): {g['total']} total, {g['allocated']} allocated, "
                     f"{g['free']} free; allocated to {to}")
    lines.append("workloads: " + (", ".join(report["workloads"]) or "none"))
    return "\n".join(lines)
