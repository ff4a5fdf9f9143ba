"""`easel diff`: what a change does to every cluster. Both revisions are compiled in memory and their output
compared object by object, with the placements that moved and the versions that changed."""

from __future__ import annotations

import difflib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from compiler.diagnostics import Diagnostic, formats, warning
from compiler.kube.immutable import ImmutableChange, immutable_changes
from compiler.load import yamlio
from compiler.pipeline import Result
from compiler.record.changes import clusters_text
from compiler.render.objects import IMMUTABLE_TEMPLATES, source_files
from compiler.reports.rendered import Rendered, folded

MARKDOWN_LIMIT = 60_000  # GitHub comments stop at 65,536 characters


@dataclass
class ObjectChange:
    change: str  # added | removed | changed
    kind: str
    name: str  # namespace/name, or the file for files that are not objects
    diff: str = ""
    immutable: tuple[ImmutableChange, ...] = ()  # what changes in fields the cluster does not update in place
    chart: str = ""  # the chart that renders the object ("": an object of the written tree)

    @property
    def title(self) -> str:
        return f"{self.kind} {self.name}" + (f" (chart {self.chart})" if self.chart else "")


@dataclass
class ClusterDiff:
    cluster: str
    objects: list[ObjectChange] = field(default_factory=list)
    arrived: list[str] = field(default_factory=list)  # workloads placed here by the change
    left: list[str] = field(default_factory=list)  # workloads the change takes away from here
    versions: list[tuple[str, str, str]] = field(default_factory=list)  # (workload, before, after) here

    @property
    def empty(self) -> bool:
        return not (self.objects or self.arrived or self.left or self.versions)


def _by_cluster(files: dict[str, str]) -> dict[str, dict[str, str]]:
    """Each cluster's files, by their path inside the cluster's folder."""
    grouped: dict[str, dict[str, str]] = defaultdict(dict)
    for path, text in files.items():
        top, cluster, inside = ([*path.split("/", 2), "", ""])[:3]
        if top == "clusters" and inside:
            grouped[cluster][inside] = text
    return grouped


def _objects(files: dict[str, str], hydrated: dict[tuple[str, str], str] | None = None) -> dict[tuple, str]:
    """A cluster's output as (kind, namespace/name) -> YAML text; files that are not objects by their path. The
    objects hydrated charts wrote (hydrated: their keys -> the chart) are keyed with their chart first, as the
    objects charts render are, their noise folded."""
    hydrated = hydrated or {}
    found: dict[tuple, str] = {}
    sources = source_files(files)
    for path, text in files.items():
        documents: list[Any] = []
        if path in sources:  # an in-house chart's template, a carried kustomize folder's file: its text changes
            pass
        elif path.endswith("kustomization.yaml"):
            listing = yamlio.load_all(text)[0]
            if isinstance(listing, dict) and set(listing) <= {"apiVersion", "kind", "resources"}:
                continue  # a list of the files beside it: their own changes say it all
        elif path.endswith(".yaml"):
            documents = [d for d in yamlio.load_all(text) if isinstance(d, dict)]
        named = [d for d in documents if isinstance(d.get("metadata"), dict) and d["metadata"].get("name")]
        if named and len(named) == len(documents):
            for document in named:
                metadata = document["metadata"]
                key = (document.get("kind", "?"), f"{metadata.get('namespace', '')}/{metadata['name']}".lstrip("/"))
                if key in hydrated:
                    found[(hydrated[key], *key)] = yamlio.dump(folded(document))
                else:
                    found[key] = yamlio.dump(document)
        else:
            found[("file", path)] = text
    return found


def _unified(before: str, after: str, name: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=f"a/{name}", tofile=f"b/{name}", n=3))


def compare(base: Result, head: Result, charts: tuple[Rendered, Rendered] | None = None) -> list[ClusterDiff]:
    """Each cluster's changes; charts: the objects each revision's charts render (reports/rendered.py), compared
    too (None: only the written tree)."""
    base_files, head_files = _by_cluster(base.files or {}), _by_cluster(head.files or {})
    clusters = sorted(set(base.fleet) | set(head.fleet))
    base_places = {w: set(d.clusters or ()) for w, d in base.decisions.workloads.items() if d.placement}
    head_places = {w: set(d.clusters or ()) for w, d in head.decisions.workloads.items() if d.placement}
    base_versions, head_versions = _versions(base), _versions(head)
    found = []
    for cluster in clusters:
        entry = ClusterDiff(cluster)
        hydrated = [side.hydrated.get(cluster, {}) for side in charts] if charts is not None else [{}, {}]
        before = _objects(base_files.get(cluster, {}), hydrated[0])
        after = _objects(head_files.get(cluster, {}), hydrated[1])
        entry.objects += _changes(before, after)
        if charts is not None:
            skipped = set().union(*(side.skipped.get(cluster, set()) for side in charts))
            entry.objects += _changes(*(_chart_objects(side.objects.get(cluster, {}), skipped) for side in charts))
        for workload in sorted(set(base_places) | set(head_places)):
            was, now = cluster in base_places.get(workload, ()), cluster in head_places.get(workload, ())
            if now and not was:
                entry.arrived.append(workload)
            elif was and not now:
                entry.left.append(workload)
        for workload in head.decisions.workloads:
            before_version = base_versions.get((workload, cluster))
            after_version = head_versions.get((workload, cluster))
            if before_version and after_version and before_version != after_version:
                entry.versions.append((workload, before_version, after_version))
        found.append(entry)
    return found


def _changes(before: dict[Any, str], after: dict[Any, str]) -> list[ObjectChange]:
    """The objects added, removed and changed, by (kind, namespace/name); keys of chart objects lead with the
    chart: (chart, kind, name)."""
    found = []
    for key in sorted(set(before) | set(after)):
        *chart, kind, name = key
        of = chart[0] if chart else ""
        if key not in before:
            found.append(ObjectChange("added", kind, name, _unified("", after[key], name), chart=of))
        elif key not in after:
            found.append(ObjectChange("removed", kind, name, _unified(before[key], "", name), chart=of))
        elif before[key] != after[key]:
            found.append(ObjectChange("changed", kind, name, _unified(before[key], after[key], name),
                                      _immutable(kind, before[key], after[key]), chart=of))
    return found


def _chart_objects(objects: dict[tuple[str, str], tuple[str, dict[str, Any]]], skipped: set[str]
                   ) -> dict[Any, str]:
    """A cluster's chart-rendered objects as (chart, kind, namespace/name) -> YAML text, but those of the charts
    a revision did not render (skipped: nothing is known of them to compare)."""
    return {(chart, kind, name): yamlio.dump(obj) for (kind, name), (chart, obj) in objects.items()
            if chart not in skipped}


def _immutable(kind: str, before: str, after: str) -> tuple[ImmutableChange, ...]:
    if kind == "file":
        return ()
    [old], [new] = yamlio.load_all(before), yamlio.load_all(after)
    return tuple(immutable_changes(old, new))


def _versions(result: Result) -> dict[tuple[str, str], str]:
    """(workload, cluster) -> the profile version the workload runs there (a rollout's waves run the new one)."""
    return {(workload, cluster): decision.version_on(cluster) or ""
            for workload, decision in result.decisions.workloads.items() for cluster in decision.clusters or ()}


FIELDS_SHOWN = 3  # values a warning names; the object's diff shows every one
REPLACED_HINT = ("nothing to do if the Job may run again: easel applies a Job by recreating what cannot be patched "
                 "(Flux `force: true`, Argo CD `Force=true,Replace=true`)")


def warnings(diffs: list[ClusterDiff]) -> list[Diagnostic]:
    """W110 for each changed object whose update touches a field the cluster does not change in place: an update
    the cluster refuses, or, for the kinds easel applies by recreating them (Jobs), one that replaces the object."""
    found = []
    for d in diffs:
        for o in d.objects:
            if not o.immutable:
                continue
            fields = _fields_text(o.immutable)
            if o.kind in IMMUTABLE_TEMPLATES:
                found.append(warning("W110", f"{o.title} on cluster {d.cluster} will be replaced (deleted and "
                                             f"created again, so it runs again): {fields} cannot change in place",
                                     hint=REPLACED_HINT))
            else:
                found.append(warning("W110", f"{o.title} on cluster {d.cluster}: {fields} cannot change in "
                                             "place, so the cluster will refuse the update"))
    return found


def _fields_text(changes: tuple[ImmutableChange, ...]) -> str:
    """ "`spec.volumeClaimTemplates[0].spec.resources.requests.storage` (`1Gi` → `2Gi`)", the first few of them."""
    named = [f"`{change.path}{below}`" + (f" ({_scalar(old)} → {_scalar(new)})" if _is_scalar(old, new) else "")
             for change in changes for below, old, new in change.leaves()]
    more = len(named) - FIELDS_SHOWN
    return ", ".join(named[:FIELDS_SHOWN]) + (f" and {more} more" if more > 0 else "")


def _is_scalar(*values: Any) -> bool:
    return all(value is None or isinstance(value, str | int | float | bool) for value in values)


def _scalar(value: Any) -> str:
    if value is None:
        return "unset"
    text = value if isinstance(value, str) else json.dumps(value)
    return f"`{text if len(text) <= 40 else text[:39] + '…'}`"


def as_json(diffs: list[ClusterDiff]) -> list[dict[str, Any]]:
    return [{"cluster": d.cluster, "arrived": d.arrived, "left": d.left,
             "versions": [{"workload": w, "from": a, "to": b} for w, a, b in d.versions],
             "objects": [{"change": o.change, "kind": o.kind, "name": o.name, "diff": o.diff,
                          "chart": o.chart or None} for o in d.objects]}
            for d in diffs if not d.empty]


def _counts(d: ClusterDiff) -> dict[str, int]:
    return {change: sum(1 for o in d.objects if o.change == change) for change in ("added", "changed", "removed")}


CLUSTERS_SHOWN = 20  # clusters shown in full in the text; past that the rest are named in one line
TABLE_ROWS = 50  # rows of the Markdown summary table
WARNINGS_SHOWN = 20  # W110 warnings the Markdown names; the text and the json have them all


def _of(changed: list[ClusterDiff], diffs: list[ClusterDiff]) -> str:
    """ "1 of 1 cluster changes", "2 of 6 clusters change"."""
    return (f"{len(changed):,} of {len(diffs):,} cluster{'' if len(diffs) == 1 else 's'} "
            f"change{'s' if len(changed) == 1 else ''}")


def unrendered(charts: tuple[Rendered, Rendered] | None) -> list[str]:
    """Why charts were not rendered (by either revision), each reason once."""
    return list(dict.fromkeys(note for side in charts or () for note in side.unrendered))


def as_text(diffs: list[ClusterDiff], base: str, head: str, notes: list[str] | None = None) -> str:
    changed = [d for d in diffs if not d.empty]
    lines = [f"easel diff {base} -> {head}: {_of(changed, diffs)}", *(notes or ())]
    for d in changed[:CLUSTERS_SHOWN]:
        counts = _counts(d)
        lines.append(f"\n{d.cluster}: {counts['added']} added, {counts['changed']} changed, "
                     f"{counts['removed']} removed")
        lines += [f"  + {w} placed here" for w in d.arrived] + [f"  - {w} leaves" for w in d.left]
        lines += [f"  ~ {w}: {a} -> {b}" for w, a, b in d.versions]
        for o in d.objects:
            mark = {"added": "+", "removed": "-", "changed": "~"}[o.change]
            lines.append(f"  {mark} {o.title}")
            if o.change == "changed":
                lines += ["      " + line for line in o.diff.rstrip("\n").splitlines()]
    if len(changed) > CLUSTERS_SHOWN:
        rest = tuple(d.cluster for d in changed[CLUSTERS_SHOWN:])
        lines.append(f"\n… and {clusters_text(rest)} change too (`--name-only` lists them, `--format json` has "
                     "every change)")
    found = warnings(diffs)  # after every cluster's section, and never left out with one
    if found:
        lines += ["", formats.text(found, {})]
    return "\n".join(lines)


def as_markdown(diffs: list[ClusterDiff], base: str, head: str, limit: int = MARKDOWN_LIMIT,
                notes: list[str] | None = None) -> str:
    changed = [d for d in diffs if not d.empty]
    out = [f"### easel diff: `{base}` → `{head}`", "", *(f"_{note}_" for note in notes or ()), *([""] if notes else [])]
    if not changed:
        return "\n".join([*out, "No cluster's output changes."])
    out += ["| cluster | added | changed | removed | placements | versions |", "|---|---:|---:|---:|---|---|"]
    for d in changed[:TABLE_ROWS]:
        counts = _counts(d)
        moves = ", ".join([f"+{w}" for w in d.arrived] + [f"−{w}" for w in d.left]) or "–"
        versions = ", ".join(f"{w} {a}→{b}" for w, a, b in d.versions) or "–"
        out.append(f"| `{d.cluster}` | {counts['added']} | {counts['changed']} | {counts['removed']} | {moves} | "
                   f"{versions} |")
    if len(changed) > TABLE_ROWS:
        out.append(f"| … {len(changed) - TABLE_ROWS:,} more | | | | | |")
    out.append(f"\n{_of(changed, diffs)}.\n")
    found = warnings(diffs)  # before the sections the size cap may leave out
    if found:
        out += ["**Changes the cluster cannot make in place** (W110):", ""]
        out += [f"- {w.text}<br>_hint: {w.hint}_" for w in found[:WARNINGS_SHOWN]]
        if len(found) > WARNINGS_SHOWN:
            out.append(f"- … and {len(found) - WARNINGS_SHOWN:,} more: `easel diff --base {base}` lists them all")
        out.append("")
    left_out = 0
    for d in changed:
        counts = _counts(d)
        section = [(f"<details><summary><code>{d.cluster}</code>: {counts['added']} added, {counts['changed']} "
                   f"changed, {counts['removed']} removed</summary>"), ""]
        for o in d.objects:
            chart = f" (chart `{o.chart}`)" if o.chart else ""
            section += [f"**{o.change}** `{o.kind}` `{o.name}`{chart}", "", "```diff", o.diff.rstrip("\n"), "```", ""]
        section.append("</details>")
        text = "\n".join(section)
        if len("\n".join(out)) + len(text) > limit:
            left_out += 1
            continue
        out.append(text)
    if left_out:
        out.append(f"\n_{left_out} cluster section(s) left out to stay under {limit:,} characters: run "
                   f"`easel diff --base {base}` to see them all._")
    return "\n".join(out)
