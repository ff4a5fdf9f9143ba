"""`easel status`: the fleet at a glance. GPUs per cluster and product (total / allocated / free), workloads
per cluster, and each project's GPUs against its quota. Plain data; cli.py prints it with rich or as JSON."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..gpu import EXCLUSIVE, pool_key
from ..pipeline import Result


def fleet_status(result: Result) -> dict[str, Any]:
    allocated: dict[tuple[str, str], int] = defaultdict(int)
    workloads: dict[str, list[str]] = defaultdict(list)
    used: dict[str, int] = defaultdict(int)
    used_by_product: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for workload_id, decision in result.decisions.workloads.items():
        project = workload_id.partition("/")[0]
        for cluster in decision.clusters or ():
            workloads[cluster].append(workload_id)
            for allocation in decision.allocations.get(cluster, ()):
                allocated[(cluster, allocation.pool)] += allocation.count
                used[project] += allocation.count
                used_by_product[project][allocation.product] += allocation.count
    clusters = []
    for name, facts in result.fleet.items():
        gpus = [{"product": pool.product, **({"sharing": pool.mode} if pool.mode != EXCLUSIVE else {}),
                 "total": pool.total, "allocated": allocated[(name, key)], "free": pool.total - allocated[(name, key)]}
                for key, pool in facts.gpus.items()]
        clusters.append({"cluster": name, "engine": facts.engine, "source": facts.cluster.source,
                         "kubernetesVersion": facts.kubernetes_version, "gpus": gpus,
                         "workloads": sorted(workloads[name])})
    projects = []
    for name, project in (result.model.projects.items() if result.model else ()):
        by_product = [{"product": product, "quota": project.quota_by_product.get(product),
                       "used": used_by_product[name].get(product, 0)}
                      for product in sorted(set(project.quota_by_product) | set(used_by_product[name]))]
        projects.append({"project": name, "quota": project.quota_gpus, "used": used[name], "byProduct": by_product})
    return {"clusters": clusters, "projects": projects}


def render_tables(status: dict[str, Any], console) -> None:
    """Print the status as two rich tables."""
    from rich.table import Table

    fleet = Table(title="GPUs per cluster (ready devices)", title_justify="left")
    for column, justify in (("cluster", "left"), ("engine", "left"), ("GPU product", "left"), ("total", "right"),
                            ("allocated", "right"), ("free", "right"), ("workloads", "right")):
        fleet.add_column(column, justify=justify)
    for cluster in status["clusters"]:
        rows = cluster["gpus"] or [{"product": "-", "total": 0, "allocated": 0, "free": 0}]
        for index, gpu in enumerate(rows):
            first = index == 0
            product = pool_key(gpu["product"], gpu.get("sharing", EXCLUSIVE))
            fleet.add_row(cluster["cluster"] if first else "", cluster["engine"] if first else "", product,
                          str(gpu["total"]), str(gpu["allocated"]), str(gpu["free"]),
                          str(len(cluster["workloads"])) if first else "")
    console.print(fleet)
    quotas = Table(title="GPU quotas per project (across the fleet)", title_justify="left")
    for column, justify in (("project", "left"), ("GPU product", "left"), ("quota", "right"), ("used", "right")):
        quotas.add_column(column, justify=justify)
    for project in status["projects"]:
        quotas.add_row(project["project"], "all", _or_dash(project["quota"]), str(project["used"]))
        for product in project["byProduct"]:
            quotas.add_row("", product["product"], _or_dash(product["quota"]), str(product["used"]))
    console.print(quotas)


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)
