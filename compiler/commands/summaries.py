"""What a run that succeeded reports: the counts (Totals), the lines it prints and the same as data (Summary), and
the changes against easel.lock, as sentences and as data. Built from a compile's result, or from the totals a run
kept in the cache when it is replayed, so a replayed run says the same."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compiler.pipeline import Result
from compiler.plan.shards import Shard
from compiler.record.changes import Change, changes
from compiler.write.compare import Changes

MOVES_SHOWN = 30  # change lines printed; the rest are counted, so a fleet-wide move stays a short report


def moves(result: Result) -> list[str]:
    """What this compile changes in versions and in where workloads run, compared with easel.lock, and why."""
    found = [str(change) for change in changes(result.previous, result.decisions)]
    if len(found) <= MOVES_SHOWN:
        return found
    return [*found[:MOVES_SHOWN], (f"… and {len(found) - MOVES_SHOWN:,} more changes (easel explain WORKLOAD "
                                  "tells one workload's placements; easel diff lists every file)")]


@dataclass(frozen=True)
class Totals:
    """The counts a summary gives: kept with a run in the cache, so a replayed run says the same."""
    workloads: int
    placements: int  # (workload, cluster) pairs
    placed: int  # workloads placed on some cluster
    clusters: int  # the fleet
    files: int
    occupied: int  # clusters some workload is placed on

    @classmethod
    def of(cls, result: Result, files: int | None = None) -> Totals:
        """files: how many the output holds, when the tree was written part by part (result.files is None)."""
        decided = [d for d in result.decisions.workloads.values() if d.placement]
        return cls(len(result.model.workloads) if result.model else 0, sum(len(d.clusters or ()) for d in decided),
                   sum(1 for d in decided if d.placement and d.placement.placed), len(result.fleet),
                   len(result.files or {}) if files is None else files,
                   len({c for d in decided for c in d.clusters or ()}))

    def placements_text(self) -> str:
        """ "15 placements on 6 clusters"; "1 placement on 1 cluster of 3" (some clusters run nothing)."""
        fleet = f" of {self.clusters:,}" if self.occupied != self.clusters else ""
        return f"{counted(self.placements, 'placement')} on {counted(self.occupied, 'cluster')}{fleet}"


def counted(number: int, noun: str) -> str:
    """ "1 cluster", "2 clusters" (the nouns easel counts take an s)."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


@dataclass(frozen=True)
class Summary:
    """What a run that succeeded reports: the lines it prints, and the same as data (`--format json`; the
    fields are described in docs/reference/output.md)."""
    text: str
    data: dict


def change_data(change: Change) -> dict:
    """A change as data: its kind (the class: Placed, VersionUpdated, ...), its fields (camelCase, as every
    report's), and its sentence."""
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    def plain(value):
        if isinstance(value, tuple):
            return list(value)
        return value if isinstance(value, (str, int, bool)) or value is None else str(value)

    return {"change": type(change).__name__, **{camel(k): plain(v) for k, v in vars(change).items()},
            "message": str(change)}


def changes_data(result: Result | None) -> list[dict]:
    return [change_data(c) for c in changes(result.previous, result.decisions)] if result is not None else []


def _where(out: Path, root: Path) -> str:
    """The output folder as reports give it: relative to the repository when inside it."""
    try:
        return out.relative_to(root).as_posix()
    except ValueError:
        return str(out)


def compiled(totals: Totals, changed: Changes, out: Path, root: Path, result: Result | None,
             shard: Shard | None = None) -> Summary:
    """`easel compile` wrote the output folder (result None: a replayed run, which changes nothing)."""
    part = f" (shard {shard.index}/{shard.count}: {totals.files} files)" if shard else ""
    text = "\n".join([
        (f"compiled {counted(totals.workloads, 'workload')} into {totals.placements_text()}{part}: "
        f"{len(changed.added)} added, {len(changed.changed)} changed, {len(changed.removed)} removed, "
        f"{changed.unchanged} unchanged ({out})"),
        *(moves(result) if result is not None else [])])
    return Summary(text, {**vars(totals), "output": _where(out, root), "added": len(changed.added),
                          "changed": len(changed.changed), "removed": len(changed.removed),
                          "unchanged": changed.unchanged, "upToDate": not changed.any,
                          "shard": f"{shard.index}/{shard.count}" if shard else None,
                          "changes": changes_data(result)})


def up_to_date(totals: Totals, out: Path, root: Path, found: Changes | None = None) -> Summary:
    """`easel compile --check`: what the output folder holds against what a compile would write."""
    found = found or Changes(unchanged=totals.files)
    return Summary(f"up to date: {counted(totals.files, 'file')} for {totals.placements_text()}",
                   {**vars(totals), "output": _where(out, root), "added": len(found.added),
                    "changed": len(found.changed), "removed": len(found.removed), "unchanged": found.unchanged,
                    "upToDate": not found.any, "shard": None, "changes": []})


def validated(result: Result) -> Summary:
    """`easel validate` found no error."""
    totals = Totals.of(result)
    text = "\n".join([f"ok: {counted(totals.workloads, 'workload')}, {totals.placements_text()}", *moves(result)])
    return Summary(text, {"workloads": totals.workloads, "placed": totals.placed,
                          "placements": totals.placements, "clusters": totals.clusters,
                          "occupied": totals.occupied, "changes": changes_data(result)})
