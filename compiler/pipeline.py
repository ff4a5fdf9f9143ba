"""The compiler, top to bottom: load → validate → resolve → place → render. Writing is the caller's last step
(write.py), so that `validate`, `compile --check` and `explain` run the very same stages without touching disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import inventory, load, lock, place, render, resolve, validate
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

    @property
    def ok(self) -> bool:
        return not self.diagnostics.has_errors


def compile_repository(source: Source, render_output: bool = True, update: str | None = None) -> Result:
    """update: "*" or a profile name whose workloads move to the newest allowed version (`easel lock --update`)."""
    raw = load.load(source)
    diagnostics = raw.diagnostics
    result = Result(raw.texts, diagnostics)
    model, problems = validate.validate(raw)
    diagnostics.extend(problems)
    result.model = model
    result.fleet = inventory.fleet(model, diagnostics)
    result.resolved, problems = resolve.resolve(model, update)
    diagnostics.extend(problems)
    if diagnostics.has_errors:
        return result  # placing a partly understood repository would only add misleading errors
    result.placements, problems = place.place(result.resolved, result.fleet, model.lock.placements)
    diagnostics.extend(problems)
    if diagnostics.has_errors or not render_output:
        return result
    files, problems = render.render(model, result.fleet, result.placements)
    diagnostics.extend(problems)
    if not diagnostics.has_errors:
        result.files = files
        result.lock_text = lock.dump(Lock(
            placements={p.workload.id: tuple(p.clusters) for p in result.placements},
            versions={r.id: (r.profile.meta.name, r.profile.version) for r in result.resolved},
            digests={r.profile.key: r.profile.digest for r in result.resolved}))
    return result
