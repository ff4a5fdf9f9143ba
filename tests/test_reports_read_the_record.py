"""Reports read what decide decided from the decision record; they never work a default out again. So no module
of compiler/reports imports compiler.decide, and `explain` shows the placement policy decide recorded: the
environment's, with decide's default prioritizers where it names none."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

from builders import byoc_cluster
from scenario import TEAM_IN_DEV, compile_files, decision, one_component_app, replaced

from compiler.decide.place import DEFAULT_PRIORITIZERS
from compiler.model import Prioritizer
from compiler.reports import explain

REPORTS = Path(__file__).resolve().parent.parent / "compiler" / "reports"
WEB = """    - name: web
      type: webservice
      properties: {image: registry.example.com/app:1}"""


def _imported(path: Path) -> set[str]:
    """Every module a file imports, at the top, under TYPE_CHECKING or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return found


def test_no_report_imports_decide() -> None:
    offenders = {path.name: sorted(m for m in _imported(path) if m == "compiler.decide"
                                   or m.startswith("compiler.decide."))
                 for path in sorted(REPORTS.rglob("*.py"))}
    assert {name: found for name, found in offenders.items() if found} == {}


def _compiled(placement: str = ""):
    files = {**TEAM_IN_DEV, **one_component_app(WEB), **byoc_cluster("east"), **byoc_cluster("west")}
    if placement:
        files = replaced(files, "environments/env.yaml", 'spec: {projects: ["*"]}',
                         f'spec:\n  projects: ["*"]\n  placement:\n{placement}')
    result = compile_files(files)
    assert not result.diagnostics.has_errors, [str(d) for d in result.diagnostics]
    return result


def _shown(result) -> tuple[dict, str]:
    workload = result.model.workloads[("team", "w")]
    report = explain.workload_report(result, workload)
    return report["placement"], explain.workload_text(report)


def test_explain_shows_the_default_prioritizers_decide_used() -> None:
    result = _compiled()
    policy = decision(result, "team/w").policy
    assert policy.prioritizers == DEFAULT_PRIORITIZERS and policy.number_of_clusters is None
    placement, text = _shown(result)
    assert placement["prioritizers"] == [{"name": p.name, "weight": p.weight} for p in DEFAULT_PRIORITIZERS]
    assert placement["numberOfClusters"] is None
    assert "placement (every eligible cluster; prioritizers MostFreeGPU×1, LeastWorkloads×1):" in text


def test_explain_shows_the_environments_prioritizers() -> None:
    result = _compiled("    numberOfClusters: 1\n    prioritizers: [{name: LeastWorkloads, weight: 3}]\n")
    placement, text = _shown(result)
    assert placement["prioritizers"] == [{"name": "LeastWorkloads", "weight": 3}]
    assert "placement (1 cluster(s); prioritizers LeastWorkloads×3):" in text


def test_explain_reads_the_policy_from_the_record() -> None:
    """Whatever the record says was applied is what explain shows, not what the environment would give now."""
    result = _compiled()
    recorded = dataclasses.replace(decision(result, "team/w").policy, number_of_clusters=2,
                                   prioritizers=(Prioritizer("Steady", 5),))
    workloads = {**result.decisions.workloads,
                 "team/w": dataclasses.replace(decision(result, "team/w"), policy=recorded)}
    result.decisions = dataclasses.replace(result.decisions, workloads=workloads)
    placement, text = _shown(result)
    assert placement["prioritizers"] == [{"name": "Steady", "weight": 5}]
    assert "placement (2 cluster(s); prioritizers Steady×5):" in text
