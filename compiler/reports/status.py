"""`easel status`: the fleet at a glance. GPUs per cluster and product (total / allocated / free), workloads
per cluster, and each project's GPUs against its quota (and, for `easel report`, the infrastructure stacks per
cluster). Plain data; cli/ prints it with rich or as JSON."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from compiler.model.gpu import EXCLUSIVE, pool_key
from compiler.pipeline import Result

if TYPE_CHECKING:
    from rich.text import JustifyMethod


def fleet_status(result: Result) -> dict[str, Any]:
    allocated: dict[tuple[str, str], int] = defaultdict(int)
    workloads: dict[str, list[str]] = defaultdict(list)
    used: dict[str, int] = defaultdict(int)
    used_by_product: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    holders: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)  # (cluster, pool, device)
    for workload_id, decision in result.decisions.workloads.items():
        project = workload_id.partition("/")[0]
        for cluster in decision.clusters or ():
            workloads[cluster].append(workload_id)
            for allocation in decision.allocations.get(cluster, ()):
                for device, count in allocation.devices:
                    holders[(cluster, allocation.pool, device)].append(
                        {"workload": workload_id, "component": allocation.component, "count": count,
                         "version": decision.version_on(cluster)})
                allocated[(cluster, allocation.pool)] += allocation.count
                used[project] += allocation.count
                used_by_product[project][allocation.product] += allocation.count
    clusters = []
    for name, facts in result.fleet.items():
        gpus = [{"product": pool.product, **({"sharing": pool.mode} if pool.mode != EXCLUSIVE else {}),
                 "total": pool.total, "allocated": allocated[(name, key)], "free": pool.total - allocated[(name, key)]}
                for key, pool in facts.gpus.items()]
        clusters.append({"cluster": name, "engine": facts.engine, "source": facts.cluster.source,
                         "kubernetesVersion": facts.kubernetes_version, "gpuAllocation": facts.gpu_allocation,
                         "gpus": gpus, "devices": _devices(name, facts.devices, facts.gpus, holders),
                         "workloads": sorted(workloads[name])})
    projects = []
    for name, team in (result.model.projects.items() if result.model else ()):
        by_product = [{"product": product, "quota": team.quota_by_product.get(product),
                       "used": used_by_product[name].get(product, 0)}
                      for product in sorted(set(team.quota_by_product) | set(used_by_product[name]))]
        projects.append({"project": name, "quota": team.quota_gpus, "used": used[name], "byProduct": by_product})
    return {"clusters": clusters, "projects": projects}


def _devices(cluster: str, capacity: dict[str, tuple[tuple[str, int], ...]], pools: dict[str, Any],
             holders: dict[tuple[str, str, str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per device and pool, by device name: its GPUs (slots, instances), and who holds how many of them at
    which version (placement packs each pod's GPUs onto one device)."""
    rows = []
    for key, on in capacity.items():
        pool = pools[key]
        for device, total in on:
            held = holders.get((cluster, key, device), [])
            allocated = sum(h["count"] for h in held)
            rows.append({"device": device, "product": pool.product,
                         **({"sharing": pool.mode} if pool.mode != EXCLUSIVE else {}),
                         "total": total, "allocated": allocated, "free": total - allocated, "holders": held})
    return sorted(rows, key=lambda row: (row["device"], row["product"], row.get("sharing", "")))


def cluster_stacks(result: Result) -> list[dict[str, Any]]:
    """Per cluster, the infrastructure stacks it runs: those easel deploys there (with the workloads that wait
    for them) and those its cluster profile already provides: its add-on layers, whether or not a workload
    needs them, and any other layer one needs."""
    rows = []
    for name, facts in result.fleet.items():
        decision = result.decisions.clusters.get(name)
        stacks = []
        provided = dict(decision.provided) if decision else {}
        profile = facts.cluster.cluster_profile
        found = result.model.cluster_profiles.get(profile) if profile and result.model else None
        provided.update({layer.name: layer.version for layer in found.layers if layer.type == "addon"} if found else {})
        if decision:
            for stack, version in sorted(decision.stacks.items()):
                waiting = sorted(w for w, needs in decision.needs.items() if stack in needs)
                stacks.append({"stack": stack, "version": version, "by": "easel", "neededBy": waiting})
        stacks += [{"stack": stack, "version": version, "by": "cluster profile", "neededBy": []}
                   for stack, version in sorted(provided.items())]
        rows.append({"cluster": name, "clusterProfile": "/".join(profile) if profile else None, "stacks": stacks})
    return rows


LISTED = 20  # clusters listed one by one without --all; a larger fleet is summed up per GPU product


def render_tables(status: dict[str, Any], console, every_cluster: bool = False) -> None:
    """Print the status as two rich tables (the first, for a large fleet, per GPU product unless asked for
    every cluster)."""
    from rich.table import Table

    if len(status["clusters"]) > LISTED and not every_cluster:
        console.print(_per_product(status["clusters"]))
        console.print(f"{len(status['clusters']):,} clusters: `easel status --all` lists each one "
                      "(`--format json` gives them all to tools)")
    else:
        console.print(_per_cluster(status["clusters"]))
        if any(device["allocated"] for cluster in status["clusters"] for device in cluster["devices"]):
            console.print(_per_device(status["clusters"]))
    quotas = Table(title="GPU quotas per project (across the fleet)", title_justify="left")
    for column, justify in (("project", "left"), ("GPU product", "left"), ("quota", "right"), ("used", "right")):
        quotas.add_column(column, justify=_justified(justify))
    for project in status["projects"]:
        quotas.add_row(project["project"], "all", _or_dash(project["quota"]), str(project["used"]))
        for product in project["byProduct"]:
            quotas.add_row("", product["product"], _or_dash(product["quota"]), str(product["used"]))
    console.print(quotas)


def per_product(clusters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The clusters' GPUs summed up per product (and sharing mode), sorted: a large fleet at a glance. A
    cluster without GPUs counts under "-"."""
    sums: dict[str, list[int]] = {}
    for cluster in clusters:
        for gpu in cluster["gpus"] or [{"product": "-", "total": 0, "allocated": 0, "free": 0}]:
            row = sums.setdefault(pool_key(gpu["product"], gpu.get("sharing", EXCLUSIVE)), [0, 0, 0, 0])
            row[0] += 1
            row[1] += gpu["total"]
            row[2] += gpu["allocated"]
            row[3] += gpu["free"]
    return [{"product": product, "clusters": count, "total": total, "allocated": allocated, "free": free}
            for product, (count, total, allocated, free) in sorted(sums.items())]


def _per_product(clusters: list[dict[str, Any]]):
    from rich.table import Table

    table = Table(title="GPUs per product (ready devices)", title_justify="left")
    for column, justify in (("GPU product", "left"), ("clusters", "right"), ("total", "right"),
                            ("allocated", "right"), ("free", "right")):
        table.add_column(column, justify=_justified(justify))
    for row in per_product(clusters):
        table.add_row(row["product"], f"{row['clusters']:,}", f"{row['total']:,}", f"{row['allocated']:,}",
                      f"{row['free']:,}")
    return table


def _per_cluster(clusters: list[dict[str, Any]]):
    from rich.table import Table

    fleet = Table(title="GPUs per cluster (ready devices)", title_justify="left")
    for column, justify in (("cluster", "left"), ("engine", "left"), ("GPUs by", "left"), ("GPU product", "left"),
                            ("total", "right"),
                            ("allocated", "right"), ("free", "right"), ("workloads", "right")):
        fleet.add_column(column, justify=_justified(justify))
    for cluster in clusters:
        rows = cluster["gpus"] or [{"product": "-", "total": 0, "allocated": 0, "free": 0}]
        for index, gpu in enumerate(rows):
            first = index == 0
            product = pool_key(gpu["product"], gpu.get("sharing", EXCLUSIVE))
            fleet.add_row(cluster["cluster"] if first else "", cluster["engine"] if first else "",
                          cluster["gpuAllocation"] if first else "", product,
                          str(gpu["total"]), str(gpu["allocated"]), str(gpu["free"]),
                          str(len(cluster["workloads"])) if first else "")
    return fleet


def _per_device(clusters: list[dict[str, Any]]):
    from rich.table import Table

    table = Table(title="GPUs per device (where placement packed each workload's pods)", title_justify="left")
    for column, justify in (("cluster", "left"), ("device", "left"), ("GPU product", "left"), ("allocated", "right"),
                            ("total", "right"), ("held by (GPUs, version)", "left")):
        table.add_column(column, justify=_justified(justify))
    for cluster in clusters:
        for device in cluster["devices"]:
            if device["allocated"]:
                held = ", ".join(f"{h['workload']} {h['component']} ×{h['count']} @{h['version']}"
                                 for h in device["holders"])
                table.add_row(cluster["cluster"], device["device"],
                              pool_key(device["product"], device.get("sharing", EXCLUSIVE)),
                              str(device["allocated"]), str(device["total"]), held)
    return table


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)


def _justified(side: str) -> JustifyMethod:
    return "right" if side == "right" else "left"
