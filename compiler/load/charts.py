"""An in-house chart: a folder of the config repository with a `Chart.yaml`, packed into a chart archive in
memory, as `helm package` lays one out (every file under a folder named after the chart), byte for byte the
same for the same files: sorted, no times, owners or modes from the disk. A link inside the folder is refused
(Helm would follow it, out of the chart), and so are files and charts larger than Helm's own limits.

Not packed: dot files (`.helmignore` is not applied: what the folder holds is what is packed).
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile

import yaml

from compiler.kube.names import CHART_NAME_PATTERN
from compiler.load.source import PathOutsideRepository, Source

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
