"""The repository's kustomize folders (every folder under the inputs that holds a kustomization), with their files
and the other folders their kustomization builds on: what a cluster's tree carries for a `kustomize` component
(model/folders.py)."""

from __future__ import annotations

import bisect
import posixpath
from collections.abc import Mapping

from compiler.diagnostics import Diagnostics, Location
from compiler.load import RawRepo, yamlio
from compiler.model.folders import KUSTOMIZATION_FILES, KustomizeFolder

# kustomization fields whose entries may name other kustomization folders (kustomize loads those as their own
# roots: the one way it reads outside a folder)
_BUILDS_ON = ("resources", "components", "bases")


def kustomize_folders(raw: RawRepo, diagnostics: Diagnostics) -> dict[str, KustomizeFolder]:
    """Every folder under the inputs that holds a kustomization, by its path."""
    kustomizations = {path.rpartition("/")[0]: path for path in raw.files
                      if "/" in path and path.rpartition("/")[2] in KUSTOMIZATION_FILES}
    if not kustomizations:
        return {}
    found = {}
    listed = sorted(raw.files)
    read: dict[str, str | None] = {}  # each file once, though nested folders both hold it
    for folder, kustomization in sorted(kustomizations.items()):
        files = []
        prefix = f"{folder}/"
        index = bisect.bisect_left(listed, prefix)
        while index < len(listed) and listed[index].startswith(prefix):  # the folder's files lie together
            path = listed[index]
            index += 1
            if path not in read:
                read[path] = _text(raw, path, diagnostics)
            if read[path] is not None:
                files.append((path[len(folder) + 1:], str(read[path])))
        uses = _builds_on(folder, raw.texts.get(kustomization, ""), kustomizations, Location(kustomization),
                          diagnostics)
        found[folder] = KustomizeFolder(folder, tuple(sorted(files)), uses)
    return found


def _text(raw: RawRepo, path: str, diagnostics: Diagnostics) -> str | None:
    if path in raw.texts:
        return raw.texts[path]
    data = raw.folder_files.get(path)
    if data is None:
        return None  # a YAML file that could not be read: load reported it
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        diagnostics.error("E105", f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x})", Location(path),
                          "a kustomize folder is carried into each cluster's tree as text: keep binary files out "
                          "of it (or fetch them from a remote resource)")
        return None


def _builds_on(folder: str, text: str, kustomizations: Mapping[str, str], where: Location,
               diagnostics: Diagnostics) -> tuple[str, ...]:
    """The kustomize folders outside `folder` that its kustomization names (a remote URL is the cluster's to
    fetch; a folder inside this one is carried with it already)."""
    parsed, problems = yamlio.parse(text)
    if problems or not parsed or not isinstance(parsed[0].data, dict):
        return ()  # kustomize's file, kustomize's to report (load did, if it is .yaml)
    kustomization = parsed[0].data
    listed = [entry for field in _BUILDS_ON for entry in _list(kustomization.get(field))]
    entries = [entry for entry in listed
               if isinstance(entry, str) and "://" not in entry and not entry.startswith(("github.com/", "git@"))]
    uses = set()
    for entry in entries:
        target = posixpath.normpath(posixpath.join(folder, entry))
        if target.startswith("../") or target == ".." or posixpath.isabs(entry):
            diagnostics.error("E106", f"{where.file} names {entry!r}, outside the repository", where,
                              "a kustomize folder may build only on folders inside the repository, or on remote "
                              "resources")
        elif target in kustomizations and target != folder and not target.startswith(f"{folder}/"):
            uses.add(target)
    return tuple(sorted(uses))


def _list(value: object) -> list:
    return value if isinstance(value, list) else []
