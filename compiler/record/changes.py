"""What a compile changes compared with easel.lock: a function of two decision records, the previous and the new
one. Each change is a value; `str()` says it the way `easel compile`, `lock` and `validate` print it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from compiler.model.reasons import Reason
from compiler.record.decisions import Decisions, Rollout

LISTED = 5  # clusters named in full in a change line; more are counted, with the first and the last


def clusters_text(clusters: tuple[str, ...] | list[str]) -> str:
    """A few clusters by name; many as a count with the first and the last, so a line stays a line at fleet
    scale: `10,000 clusters (c00000 … c09999)`."""
    if len(clusters) <= LISTED:
        return ", ".join(clusters)
    return f"{len(clusters):,} clusters ({clusters[0]} … {clusters[-1]})"


def _details(workload: str, clusters: tuple[str, ...]) -> str:
    return f"; details: easel explain {workload}" if len(clusters) > LISTED else ""


@dataclass(frozen=True)
class Change:
    workload: str


@dataclass(frozen=True)
class VersionUpdated(Change):
    before: tuple[str, str]  # (profile, version)
    after: tuple[str, str]

    def __str__(self) -> str:
        return f"updated {self.workload}: {' '.join(self.before)} -> {' '.join(self.after)}"


@dataclass(frozen=True)
class RolloutStarted(Change):
    from_version: str
    to_version: str
    waves: int

    def __str__(self) -> str:
        return (f"rollout of {self.workload} started: {self.from_version} -> {self.to_version}, wave 1 of "
                f"{self.waves}")


@dataclass(frozen=True)
class RolloutAdvanced(Change):
    wave: int
    waves: int

    def __str__(self) -> str:
        return f"rollout of {self.workload} at wave {self.wave} of {self.waves}"


@dataclass(frozen=True)
class RolloutEnded(Change):
    completed: bool  # False: rolled back
    version: str  # what runs everywhere now

    def __str__(self) -> str:
        if self.completed:
            return f"rollout of {self.workload} completed: now {self.version} everywhere"
        return f"rollout of {self.workload} rolled back: {self.version} everywhere"


@dataclass(frozen=True)
class Placed(Change):
    clusters: tuple[str, ...]
    also: bool = False  # it ran elsewhere before and keeps that

    def __str__(self) -> str:
        return (f"{'also placed' if self.also else 'placed'} {self.workload} on {clusters_text(self.clusters)}"
                + _details(self.workload, self.clusters))


@dataclass(frozen=True)
class Moved(Change):
    cluster: str  # the cluster it leaves
    why: Reason
    now_on: tuple[str, ...]

    def __str__(self) -> str:
        return (f"moved {self.workload} off {self.cluster} ({self.why})"
                + (f"; now on {clusters_text(self.now_on)}" if self.now_on else ""))


@dataclass(frozen=True)
class Removed(Change):
    clusters: tuple[str, ...]

    def __str__(self) -> str:
        return f"removed {self.workload} from {clusters_text(self.clusters)}"


@dataclass(frozen=True)
class StackUpdated(Change):  # `workload` is the stack's name
    before: str
    after: str
    clusters: tuple[str, ...]

    def __str__(self) -> str:
        return f"updated stack {self.workload} on {clusters_text(self.clusters)}: {self.before} -> {self.after}"


@dataclass(frozen=True)
class StackRolloutStep(Change):
    text: str

    def __str__(self) -> str:
        return f"rollout of stack {self.workload} {self.text}"


def changes(previous: Decisions, decisions: Decisions) -> list[Change]:
    """Versions and rollouts first (per workload, then per stack), then placements, then workloads that are gone."""
    found: list[Change] = [*_versions(previous, decisions), *_stacks(previous, decisions),
                           *_placements(previous, decisions)]
    placed = {w for w, d in decisions.workloads.items() if d.placement is not None}
    recorded = {w: d.clusters for w, d in previous.workloads.items() if d.clusters is not None}
    found += [Removed(w, recorded[w]) for w in sorted(set(recorded) - placed)]
    return found


def _versions(previous: Decisions, decisions: Decisions) -> list[Change]:
    found: list[Change] = []
    for workload, now in decisions.workloads.items():
        before = previous.workloads.get(workload)
        if before and before.version is not None and (before.profile, before.version) != (now.profile, now.version):
            found.append(VersionUpdated(workload, (before.profile or "", before.version), (now.profile or "",
                                                                                          now.version or "")))
        was, rollout = before.rollout if before else None, now.rollout
        step = _rollout_step(was, rollout)
        if step == "started" and rollout:
            found.append(RolloutStarted(workload, rollout.from_version, rollout.to_version, len(rollout.waves)))
        elif step == "advanced" and rollout:
            found.append(RolloutAdvanced(workload, rollout.wave, len(rollout.waves)))
        elif step == "ended" and was:
            found.append(RolloutEnded(workload, now.version == was.to_version, now.version or ""))
    return found


def _rollout_step(was: Rollout | None, now: Rollout | None) -> Literal["started", "advanced", "ended"] | None:
    """What became of a workload's or a stack's rollout: "started", "advanced", "ended", or None (no change)."""
    if now and (was is None or (was.from_version, was.to_version) != (now.from_version, now.to_version)):
        return "started"
    if now and was and was.wave != now.wave:
        return "advanced"
    return "ended" if was and not now else None


def _stacks(previous: Decisions, decisions: Decisions) -> list[Change]:
    """Every stack version that changes on some cluster, and where stack rollouts start, move and end."""
    moved: dict[tuple[str, str, str], list[str]] = {}
    for cluster, now in sorted(decisions.clusters.items()):
        before = previous.clusters.get(cluster)
        for name, version in sorted(now.stacks.items()):
            was = before.stacks.get(name) if before else None
            if was is not None and was != version:
                moved.setdefault((name, was, version), []).append(cluster)
    found: list[Change] = [StackUpdated(name, was, version, tuple(clusters))
                           for (name, was, version), clusters in sorted(moved.items())]
    for name in sorted(set(previous.stack_rollouts) | set(decisions.stack_rollouts)):
        rollout = decisions.stack_rollouts.get(name)
        step = _rollout_step(previous.stack_rollouts.get(name), rollout)
        if step == "started" and rollout:
            found.append(StackRolloutStep(name, f"started: {rollout.from_version} -> {rollout.to_version}, wave 1 "
                                                f"of {len(rollout.waves)}"))
        elif step == "advanced" and rollout:
            found.append(StackRolloutStep(name, f"at wave {rollout.wave} of {len(rollout.waves)}"))
        elif step == "ended":
            found.append(StackRolloutStep(name, "ended"))
    return found


def _placements(previous: Decisions, decisions: Decisions) -> list[Change]:
    found: list[Change] = []
    for workload, now in decisions.workloads.items():
        if now.placement is None:
            continue
        clusters = now.clusters or ()
        before = set(previous.workload(workload).clusters or ())
        if not before:
            if clusters:
                found.append(Placed(workload, clusters))
            continue
        left = now.placement.left
        found += [Moved(workload, cluster, why, clusters) for cluster, why in sorted(left.items())]
        added = tuple(c for c in clusters if c not in before)
        if added and not left:
            found.append(Placed(workload, added, also=True))
    return found
