"""An in-house chart: a folder of the config repository with a `Chart.yaml`, packed into a chart archive in
memory, as `helm package` lays one out (every file under a folder named after the chart), byte for byte the
same for the same files: sorted, no times, owners or modes from the disk. A link inside the folder is refused
(Helm would follow it, out of the chart), and so are files and charts larger than Helm's own limits.

Not packed: dot files (`.helmignore` is not applied: what the folder holds is what is packed).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
import zlib
from typing import Any

import yaml

from compiler.kube.names import CHART_NAME_PATTERN
from compiler.load import yamlio
from compiler.load.source import PathOutsideRepository, Source
from compiler.model.charts import ChartArchive

MAX_FILE = 5 * 2**20  # Helm's largest file in a chart
MAX_CHART = 100 * 2**20  # Helm's largest chart, unpacked
_NAME = re.compile(CHART_NAME_PATTERN)


class ChartFolderError(ValueError):
    """Why a folder cannot be packed as a chart; str() says it."""


def pack(source: Source, folder: str) -> tuple[str, bytes]:
    """The chart's name and its archive's bytes (a gzipped tar)."""
    files = source.walk(folder)
    if f"{folder}/Chart.yaml" not in files:
        raise ChartFolderError(f"{folder}: no Chart.yaml")
    try:
        meta = yaml.safe_load(source.read(f"{folder}/Chart.yaml"))
    except yaml.YAMLError as problem:
        raise ChartFolderError(f"{folder}/Chart.yaml is not YAML: {problem}") from None
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ChartFolderError(f"{folder}/Chart.yaml: `name` {name!r} is not a chart name")
    buffer = io.BytesIO()
    total = 0
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in files:
            data = _read(source, path)
            total += len(data)
            if total > MAX_CHART:
                raise ChartFolderError(f"{folder}: the chart is over {MAX_CHART // 2**20} MiB")
            info = tarfile.TarInfo(f"{name}/{path[len(folder) + 1:]}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return name, buffer.getvalue()


def texts(source: Source, folder: str) -> tuple[tuple[str, str], ...]:
    """The chart folder's files as text (path inside the chart, text): what a tree that runs it holds of it."""
    found = []
    for path in source.walk(folder):
        try:
            found.append((path[len(folder) + 1:], _read(source, path).decode("utf-8")))
        except UnicodeDecodeError:
            raise ChartFolderError(f"{path} is not UTF-8 text: an in-house chart's files are written into each "
                                   "cluster's tree as text") from None
    return tuple(found)


def _read(source: Source, path: str) -> bytes:
    try:
        if source.is_link(path):
            raise ChartFolderError(f"{path} is a symbolic link: a chart's files are packed as they are, never "
                                   "through a link")
        data = source.read(path)
    except (PathOutsideRepository, OSError) as problem:
        raise ChartFolderError(f"{path} cannot be read: {problem}") from None
    if len(data) > MAX_FILE:
        raise ChartFolderError(f"{path} is over {MAX_FILE // 2**20} MiB")
    return data


# --- reading an archive ------------------------------------------------------------------------------------------

class ChartArchiveError(ValueError):
    """Why bytes are not a chart archive easel reads; str() says it."""


def read_archive(file: str, data: bytes) -> ChartArchive:
    """What easel needs of a chart archive, read in memory: every member a regular file inside the chart's folder
    (a link, a device or a path out of it is refused), within Helm's sizes."""
    if len(data) > MAX_CHART:
        raise ChartArchiveError(f"the archive is over {MAX_CHART // 2**20} MiB")
    files = _members(data)
    top = {path.split("/", 1)[0] for path in files}
    if len(top) != 1:
        raise ChartArchiveError("a chart archive holds one folder, the chart's")
    root = top.pop()
    meta = _yaml(files, f"{root}/Chart.yaml")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or meta.get("version") is None:
        raise ChartArchiveError("its Chart.yaml has no `name` and `version`")
    values = _yaml(files, f"{root}/values.yaml") or {}
    schema = _json(files, f"{root}/values.schema.json")
    crds = tuple(doc for path, text in sorted(files.items()) if "/crds/" in path and path.endswith((".yaml", ".yml"))
                 for doc in _documents(path, text) if isinstance(doc, dict))
    lookup = any(_LOOKUP.search(text.decode("utf-8", "replace")) for path, text in files.items()
                 if "/templates/" in path)
    kube = meta.get("kubeVersion")
    return ChartArchive(file, meta["name"], str(meta["version"]), "sha256:" + hashlib.sha256(data).hexdigest(),
                        data, kube if isinstance(kube, str) else None, values if isinstance(values, dict) else {},
                        schema if isinstance(schema, dict) else None, crds, lookup,
                        tuple(_missing_dependencies(meta, files, root)))


_LOOKUP = re.compile(r"\blookup\s+\"")


def _members(data: bytes) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for member in tar:
                name = member.name.lstrip("./") if member.name.startswith("./") else member.name
                if member.isdir():
                    continue
                if not member.isfile():
                    raise ChartArchiveError(f"{member.name} is a link or a device: a chart's files are read as "
                                            "they are, never through a link")
                if name.startswith("/") or ".." in name.split("/"):
                    raise ChartArchiveError(f"{member.name} is a path out of the chart")
                if member.size > MAX_FILE:
                    raise ChartArchiveError(f"{member.name} is over {MAX_FILE // 2**20} MiB")
                total += member.size
                if total > MAX_CHART:
                    raise ChartArchiveError(f"the chart is over {MAX_CHART // 2**20} MiB unpacked")
                handle = tar.extractfile(member)
                files[name] = handle.read() if handle is not None else b""
    except (tarfile.TarError, OSError, EOFError, zlib.error) as problem:
        raise ChartArchiveError(f"not a chart archive (a gzipped tar): {problem}") from None
    return files


def _yaml(files: dict[str, bytes], path: str) -> Any:
    if path not in files:
        return None
    documents = _documents(path, files[path])
    return documents[0] if documents else None


def _documents(path: str, data: bytes) -> list[Any]:
    try:
        documents, problems = yamlio.parse(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ChartArchiveError(f"{path} is not UTF-8 text") from None
    if problems:
        raise ChartArchiveError(f"{path} line {problems[0].line}: {problems[0].message}")
    return [doc.data for doc in documents if doc.data is not None]


def _json(files: dict[str, bytes], path: str) -> Any:
    if path not in files:
        return None
    try:
        return json.loads(files[path])
    except (ValueError, RecursionError) as problem:
        raise ChartArchiveError(f"{path} is not JSON: {problem}") from None


def _missing_dependencies(meta: dict[str, Any], files: dict[str, bytes], root: str) -> list[str]:
    """Dependencies Chart.yaml declares that the archive's charts/ does not hold (Helm would skip them)."""
    present = {path[len(root) + 8:].split("/", 1)[0] for path in files if path.startswith(f"{root}/charts/")}
    missing = []
    for dependency in meta.get("dependencies") or ():
        name = dependency.get("name") if isinstance(dependency, dict) else None
        if isinstance(name, str) and name not in present and not any(
                entry.startswith(f"{name}-") and entry.endswith(".tgz") for entry in present):
            missing.append(f"its dependency {name!r} is not in the archive's charts/ (run `helm dependency build` "
                           "before packaging it)")
    return missing
