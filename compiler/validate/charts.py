"""The chart archives read (load/charts.py), each under the name `easel charts pull` stores it by, and each the
one easel.lock pins: a published chart version never changes, so an archive that differs is always an error. A
Git Repository's chart is kept by its folder's name and the Repository's ref (model/charts.py git_archive_path):
its own Chart.yaml may name it otherwise, and its version is the ref."""

from __future__ import annotations

import re

from compiler.diagnostics import Diagnostics, Location
from compiler.kube.names import CHART_NAME_PATTERN
from compiler.model import Model
from compiler.model.charts import ChartArchive, archive_path, git_archive_key, git_archive_path
from compiler.record.decisions import Decisions
from compiler.record.lockfile import chart_text


def archives(folder: str, found: list[ChartArchive], diagnostics: Diagnostics) -> dict[tuple[str, str, str],
                                                                                        ChartArchive]:
    """The archives read from folder by (repository, chart, version), from where each lies:
    `<folder>/<repository>/<chart>-<version>.tgz`, its own Chart.yaml agreeing; a Git Repository's chart folder
    `<folder>/<repository>/<folder name>@<ref>.tgz`, by (repository, folder name, ref)."""
    known: dict[tuple[str, str, str], ChartArchive] = {}
    for archive in found:
        if archive.sources:  # an in-house chart (in_house)
            continue
        repository, _, name = archive.file[len(folder) + 1:].partition("/")
        git = git_archive_key(name)
        if git is not None:
            key = (repository, *git)
            expected = git_archive_path(folder, *key)
            if archive.file != expected or not _CHART_NAME.fullmatch(git[0]):
                diagnostics.error("E109", f"{archive.file} is not a name `easel charts pull` keeps a Git "
                                  f"repository's chart under (`<folder name>@<ref>.tgz`, the ref percent-encoded)",
                                  Location(archive.file))
                continue
            known[key] = archive
            continue
        expected = archive_path(folder, repository, archive.name, archive.version)
        if archive.file != expected:
            diagnostics.error("E109", f"{archive.file} holds chart {archive.name} {archive.version}, which is kept "
                              f"as {expected}", Location(archive.file))
            continue
        known[(repository, archive.name, archive.version)] = archive
    return dict(sorted(known.items()))


_CHART_NAME = re.compile(CHART_NAME_PATTERN)


def in_house(found: list[ChartArchive], diagnostics: Diagnostics) -> dict[str, ChartArchive]:
    """The in-house charts by their folder; two of one name and version would be one chart to the engines."""
    known: dict[str, ChartArchive] = {}
    seen: dict[tuple[str, str], str] = {}
    for archive in sorted(found, key=lambda a: a.file):
        if not archive.sources:
            continue
        other = seen.setdefault((archive.name, archive.version), archive.file)
        if other != archive.file:
            diagnostics.error("E109", f"{archive.file} and {other} are both chart {archive.name} {archive.version}",
                              Location(f"{archive.file}/Chart.yaml"), "give each in-house chart its own name")
            continue
        known[archive.file] = archive
    return known


def check_pins(model: Model, previous: Decisions) -> Diagnostics:
    """Every archive is the one easel.lock pins."""
    diagnostics = Diagnostics()
    for key, archive in model.charts.items():
        pinned = previous.charts.get(key)
        if pinned is None:
            diagnostics.error("E110", f"{archive.file}: chart {chart_text(key)} is not pinned in easel.lock",
                              Location(archive.file), "run `easel charts pull` to pin the archives it fetched")
        elif pinned != archive.digest:
            diagnostics.error("E110", f"{archive.file} is not the archive easel.lock pins for chart "
                              f"{chart_text(key)}: {archive.digest}, pinned {pinned}", Location(archive.file))
    return diagnostics
