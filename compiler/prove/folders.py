"""What the proof cannot build of a kustomize folder the trees carry: kustomize features beyond those objects.py
builds as kustomize does (a `components` entry, `replacements`, a JSON 6902 patch, a name prefix, ...), said once
per folder (W112), so that a folder is never taken as proven whole when part of it is the engine's alone."""

from __future__ import annotations

from compiler.diagnostics import Diagnostic, Location, Note, warning
from compiler.load import yamlio
from compiler.model.folders import closure
from compiler.plan import Plans
from compiler.prove.objects import BUILT_FIELDS, PODLESS_FIELDS


def unbuilt(plans: Plans) -> list[Diagnostic]:
    """W112 for each carried folder whose kustomization uses what the proof does not build, at the first
    component (by position) that builds on it."""
    users: dict[str, list] = {}
    for cluster in plans.clusters.values():
        for release in cluster.releases:
            for component in release.components:
                start = component.output.kustomize_path
                for path in closure(plans.folders, start) if start else ():
                    users.setdefault(path, []).append(component)
    problems = []
    for path, components in sorted(users.items()):
        folder = plans.folders[path]
        name = folder.kustomization
        text = dict(folder.files).get(name) if name else None
        parsed, troubles = yamlio.parse(text or "")
        fields = parsed[0].data if parsed and not troubles and isinstance(parsed[0].data, dict) else {}
        beyond = sorted(set(fields) - BUILT_FIELDS - PODLESS_FIELDS)
        if not beyond:
            continue
        first = min(components, key=lambda c: (c.loc.file, c.loc.doc, str(c.loc.path)))
        problems.append(warning(
            "W112", f"kustomize folder {path!r} uses {', '.join(beyond)}, which easel does not build: the proof "
            "checks the folder's objects without them (the GPUs, images and traits they change are the engine's "
            "alone)", first.loc, notes=[Note("its kustomization", Location(f"{path}/{name}"))]))
    return problems
