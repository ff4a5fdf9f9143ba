"""A folder of the config repository that holds a kustomization, as a cluster's tree carries it: a tree is
self-contained (SPEC §6), so a `kustomize` component's folder, and every folder of the repository its
kustomization builds on, are copied into the tree of each cluster that runs it (render/objects.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# the names kustomize looks for in a folder, in its order
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@dataclass(frozen=True)
class KustomizeFolder:
    path: str  # relative to the repository
    files: tuple[tuple[str, str], ...]  # every file below it: (path inside the folder, text)
    uses: tuple[str, ...] = ()  # the repository's other folders its kustomization builds on (resources, components)

    @property
    def kustomization(self) -> str | None:
        """The name of its kustomization file."""
        present = {name for name, _ in self.files}
        return next((name for name in KUSTOMIZATION_FILES if name in present), None)


def closure(folders: Mapping[str, KustomizeFolder], start: str) -> list[str]:
    """The folder and every folder it builds on, directly or through others, sorted (each once, a cycle too)."""
    seen: set[str] = set()
    waiting = [start]
    while waiting:
        path = waiting.pop()
        if path in seen or path not in folders:
            continue
        seen.add(path)
        waiting.extend(folders[path].uses)
    return sorted(seen)
