"""`easel rollout status`: every rollout in progress, from the decision record: workload, from -> to, wave k of
n, and the clusters each wave reaches with the version they run."""

from __future__ import annotations

from typing import Any

from compiler.record.changes import clusters_text
from compiler.record.decisions import Decisions, Rollout


def rollout_rows(decisions: Decisions) -> list[dict[str, Any]]:
    """Every rollout in progress: the workloads' first, then the infrastructure stacks' by name."""
    rows = [{"workload": workload, "profile": decision.profile, **_rollout_data(decision.rollout)}
            for workload, decision in decisions.workloads.items() if decision.rollout is not None]
    rows += [{"stack": stack, "profile": stack, **_rollout_data(rollout)}
             for stack, rollout in sorted(decisions.stack_rollouts.items())]
    return rows


def _rollout_data(rollout: Rollout) -> dict[str, Any]:
    return {"from": rollout.from_version, "to": rollout.to_version, "wave": rollout.wave, "waves": [
        {"name": wave.name, "clusters": list(wave.clusters),
         "version": rollout.to_version if index < rollout.wave else rollout.from_version}
        for index, wave in enumerate(rollout.waves)]}


def rollout_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no rollouts in progress"
    lines = []
    for row in rows:
        subject = row["workload"] if "workload" in row else f"stack {row['stack']}"
        lines.append(f"{subject}: {row['profile']} {row['from']} -> {row['to']}, wave {row['wave']} of "
                     f"{len(row['waves'])}")
        for index, wave in enumerate(row["waves"], start=1):
            mark = "✓" if index <= row["wave"] else " "
            clusters = clusters_text(tuple(wave["clusters"])) or "(no clusters)"
            lines.append(f"  {mark} {index}. {wave['name']}: {clusters} -> {wave['version']}")
    return "\n".join(lines)
