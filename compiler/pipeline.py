"""The compiler, top to bottom: load → validate → resolve → place → render. Writing is the caller's last step
(write.py), so that `validate`, `compile --check` and `explain` run the very same stages without touching disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from . import dependencies, inventory, load, lock, place, render, resolve, validate
from .lock import Lock
from .diagnostics import Diagnostics
from .inventory import ClusterFacts
from .model import Model
from .place import Placement
from .resolve import ResolvedWorkload
from .source import Source


@dataclass
class Result:
    texts: dict[str, str]  # file texts read, for printing diagnostic positions
    diagnostics: Diagnostics
    model: Model | None = None
    fleet: dict[str, ClusterFacts] = field(default_factory=dict)
    resolved: list[ResolvedWorkload] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)
    files: dict[str, str] | None = None  # the output tree; None when there were errors
    lock_text: str | None = None  # easel.lock as this compile leaves it
    stacks: dict = field(default_factory=dict)  # cluster -> (its infrastructure stacks, workload -> stacks needed)
    previous_lock: Lock | None = None  # easel.lock as it was read

    @property
    def ok(self) -> bool:
        return not self.diagnostics.has_errors


def compile_repository(source: Source, render_output: bool = True, update: str | None = None,
                       edit_lock: Callable[[Lock, Model], Lock] | None = None) -> Result:
    """update: "*" or a profile name whose workloads move to the newest allowed version (`easel lock --update`).
    edit_lock: a change to easel.lock before everything is decided anew from it (`easel rollout advance`)."""
    raw = load.load(source)
    diagnostics = raw.diagnostics
    result = Result(raw.texts, diagnostics)
    model, problems = validate.validate(raw)
    diagnostics.extend(problems)
    result.model = model
    result.previous_lock = model.lock
    if edit_lock is not None and not diagnostics.has_errors:
        model.lock = edit_lock(model.lock, model)
    result.fleet = inventory.fleet(model, diagnostics)
    result.resolved, problems = resolve.resolve(model, update)
    diagnostics.extend(problems)
    if diagnostics.has_errors:
        return result  # placing a partly understood repository would only add misleading errors
    result.placements, problems = place.place(result.resolved, result.fleet, model.lock.placements)
    diagnostics.extend(problems)
    stacks, problems = dependencies.resolve_stacks(model, result.fleet, result.placements, model.lock.infrastructure,
                                                   update)
    diagnostics.extend(problems)
    result.stacks = _stack_workloads(model, stacks, diagnostics)
    if diagnostics.has_errors or not render_output:
        return result
    files, problems = render.render(model, result.fleet, result.placements, result.stacks)
    diagnostics.extend(problems)
    if not diagnostics.has_errors:
        result.files = files
        in_use = [*result.resolved, *(r.target for r in result.resolved if r.target),
                  *(s for releases, _ in result.stacks.values() for s in releases)]
        result.lock_text = lock.dump(Lock(
            placements={p.workload.id: tuple(p.clusters) for p in result.placements},
            versions={r.id: (r.profile.meta.name, r.profile.version) for r in result.resolved},
            rollouts={r.id: r.rollout for r in result.resolved if r.rollout},
            digests={r.profile.key: r.profile.digest for r in in_use},
            infrastructure={cluster: {s.profile.meta.name: s.profile.version for s in releases}
                            for cluster, (releases, _) in result.stacks.items()}))
    return result


def _stack_workloads(model: Model, stacks: dict[str, dependencies.ClusterStacks],
                     diagnostics: Diagnostics) -> dict[str, tuple[list[ResolvedWorkload], dict[str, tuple[str, ...]]]]:
    """Each cluster's stacks, resolved (once per stack version), and which of them each workload waits for."""
    resolved: dict[tuple[str, str], ResolvedWorkload | None] = {}
    found = {}
    for cluster, cluster_stacks in stacks.items():
        releases = []
        for profile in cluster_stacks.releases.values():
            if profile.key not in resolved:
                resolved[profile.key], problems = resolve.resolve_stack(model, profile)
                diagnostics.extend(problems)
            if resolved[profile.key] is not None:
                releases.append(resolved[profile.key])
        deployed = set(cluster_stacks.releases)
        found[cluster] = (releases, {w: tuple(n for n in names if n in deployed)
                                     for w, names in cluster_stacks.users.items()})
    return found
