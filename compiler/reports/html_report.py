"""`easel report`: the fleet as one static HTML page (no server, no network, nothing outside the file): GPUs per
cluster and product as bars, quotas per project, the placement matrix with the reason behind every cell, the
rollouts with their waves, and the infrastructure stacks per cluster.

The data comes from the other reports (status, explain, rollouts), shaped here for the page; the page is a
Jinja2 template with autoescaping on, so that every name read from the repository is escaped. The same input
gives the same bytes: no timestamps, no machine names.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from compiler import __version__
from compiler.model.gpu import EXCLUSIVE
from compiler.pipeline import Result
from compiler.reports import explain
from compiler.reports.rollouts import rollout_rows
from compiler.reports.status import cluster_stacks, fleet_status, per_product

TEMPLATE = "fleet-report.html.j2"
CELLS_UP_TO = 48  # pools of at most this many devices are drawn one cell per device; larger ones as one bar
MATRIX_UP_TO = 30  # clusters shown as the placement matrix's columns; past that, each workload's clusters counted
OPEN_UP_TO = 50  # clusters listed open; past that the per-cluster tables are folded (a click opens them)
REASONS_SHOWN = 3  # the commonest reasons a tally's tooltip quotes

# a word or two for the matrix cell; the full reason is the cell's tooltip
_REASON_LABELS = {"label": "labels", "not-selected": "selector", "taint": "taint", "kubernetes": "Kubernetes",
                  "arch": "arch", "stack": "stack", "gpu": "GPU", "capacity": "full", "gone": "gone",
                  "number-of-clusters": "count", "passed": "score", "too-few": "too few", "quota": "quota"}


def report_data(result: Result) -> dict[str, Any]:
    """Everything the page shows, as plain data."""
    status = fleet_status(result)
    pools = [gpu for cluster in status["clusters"] for gpu in cluster["gpus"]]
    whole = [gpu for gpu in pools if gpu.get("sharing", EXCLUSIVE) == EXCLUSIVE]
    shared = [gpu for gpu in pools if gpu.get("sharing", EXCLUSIVE) != EXCLUSIVE]
    matrix = placement_matrix(result)
    rollouts = rollout_rows(result.decisions)
    cells = max((gpu["total"] for gpu in pools), default=0) <= CELLS_UP_TO
    return {
        "version": __version__,
        "repository": {"url": result.require_model().settings.repo_url,
                       "branch": result.require_model().settings.branch},
        "summary": {
            "clusters": len(status["clusters"]),
            "workloads": len(matrix["rows"]),
            "placed": sum(1 for row in matrix["rows"] if row["placed"]),
            "gpus": _sums(whole),
            "shared": _sums(shared) if shared else None,
            "rollouts": len(rollouts),
        },
        "products": sorted(({**row, "percent": _percent(row["allocated"], row["total"])}
                            for row in per_product(status["clusters"])), key=lambda row: not row["total"]),
        "clusters": [_cluster(cluster, cells) for cluster in status["clusters"]],
        "folded": len(status["clusters"]) > OPEN_UP_TO,
        "projects": [_project(project) for project in status["projects"]],
        "matrix": matrix,
        "rollouts": rollouts,
        "stacks": cluster_stacks(result),
    }


def render(data: dict[str, Any]) -> str:
    return _environment().get_template(TEMPLATE).render(**data)


def _environment() -> Environment:
    environment = Environment(loader=PackageLoader("compiler.reports", "templates"), autoescape=True,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)
    environment.filters["n"] = lambda number: f"{number:,}"  # 10,304 GPUs
    return environment


def _sums(pools: list[dict[str, Any]]) -> dict[str, Any]:
    total = sum(gpu["total"] for gpu in pools)
    allocated = sum(gpu["allocated"] for gpu in pools)
    return {"total": total, "allocated": allocated, "free": total - allocated, "percent": _percent(allocated, total)}


def _percent(part: int, whole: int | None) -> str:
    """A CSS width; two decimals, so that the page's bytes do not depend on float printing."""
    return f"{min(100.0, 100 * part / whole):.2f}%" if whole else "0.00%"


def _cluster(cluster: dict[str, Any], cells: bool) -> dict[str, Any]:
    gpus = [{**gpu, "percent": _percent(gpu["allocated"], gpu["total"]),
             "cells": ([True] * gpu["allocated"] + [False] * gpu["free"]) if cells else None}
            for gpu in cluster["gpus"]]
    return {**cluster, "gpus": gpus}


def _project(project: dict[str, Any]) -> dict[str, Any]:
    def bar(used: int, quota: int | None) -> dict[str, Any]:
        ratio = used / quota if quota else 0
        return {"percent": "100.00%" if quota == 0 else _percent(used, quota),  # 0 of 0: reached, drawn full
                "level": "full" if quota is not None and used >= quota else "high" if ratio >= 0.75 else "ok"}

    return {**project, "bar": bar(project["used"], project["quota"]),
            "byProduct": [{**p, "bar": bar(p["used"], p["quota"])} for p in project["byProduct"]]}


def placement_matrix(result: Result) -> dict[str, Any]:
    """Workloads × clusters: per cell, chosen (with the GPUs it takes there) or the reason it was not, from
    `easel explain`'s report of each workload."""
    rows = []
    for workload in result.require_model().workloads.values():
        report = explain.workload_report(result, workload)
        placement = report.get("placement", {})
        decision = result.decisions.workloads.get(workload.id)
        reasons = decision.placement.reasons if decision and decision.placement else {}
        problem = report.get("status") or placement.get("status")
        rows.append({
            "workload": workload.id, "environment": workload.environment,
            "profile": f"{report['profile']['name']} {report['profile']['resolved'] or '(unresolved)'}",
            "gpus": report["gpus"]["total"] if "gpus" in report else 0,
            "placed": bool(placement.get("placed")), "problem": problem,
            "cells": {} if problem else {entry["cluster"]: _cell(entry, reasons.get(entry["cluster"]), decision)
                                         for entry in placement["clusters"]},
        })
    full = len(result.fleet) <= MATRIX_UP_TO
    if not full:
        for row in rows:
            row["tally"] = _tally(row["cells"].values())
    return {"clusters": list(result.fleet), "rows": rows, "full": full}


def _tally(cells) -> dict[str, Any]:
    """A workload's clusters counted: chosen, and the others by kind of reason (the commonest first), each with
    the reasons it stands for."""
    chosen = 0
    kinds: dict[tuple[str, str], dict[str, int]] = {}  # (verdict, label) -> each reason's count
    for cell in cells:
        if cell["verdict"] == "chosen":
            chosen += 1
            continue
        reasons = kinds.setdefault((cell["verdict"], cell["label"]), {})
        reasons[cell["why"]] = reasons.get(cell["why"], 0) + 1
    others: list[dict[str, Any]] = []
    for (verdict, label), reasons in kinds.items():
        common = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))  # the commonest first
        why = "; ".join(f"{count:,} × {reason}" for reason, count in common[:REASONS_SHOWN])
        if len(common) > REASONS_SHOWN:
            why += f"; and {len(common) - REASONS_SHOWN:,} other reasons"
        others.append({"verdict": verdict, "label": label or verdict, "count": sum(reasons.values()), "why": why})
    others.sort(key=lambda other: (-other["count"], other["label"]))
    return {"chosen": chosen, "others": others}


def _cell(entry: dict[str, Any], reason, decision) -> dict[str, Any]:
    if entry["verdict"] == "chosen":
        count = sum(gpu["count"] for gpu in entry["gpus"])
        takes = explain.taken_text(entry["gpus"])
        why = f"chosen: {explain.chosen_why(entry)}"
        why += f"; runs {decision.profile} {decision.version_on(entry['cluster'])}"
        why += f"; takes {takes}" if takes else "; takes no GPUs"
        return {"verdict": "chosen", "mark": "✓", "label": f"{count} GPU{'s' if count != 1 else ''}" if count else "",
                "why": why}
    kind = getattr(reason, "kind", None)
    return {"verdict": "eligible" if entry["verdict"] == "eligible" else "passed",
            "mark": "○" if entry["verdict"] == "eligible" else "✗",
            "label": _REASON_LABELS.get(kind or "", kind or ""), "why": entry["reason"] or entry["verdict"]}
