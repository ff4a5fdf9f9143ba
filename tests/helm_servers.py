"""Where charts come from, served for tests on loopback: a chart folder packed as easel packs one
(`pack_folder`), a Helm HTTP repository (`http_helm_repository`: the archives and an `index.yaml` as Helm writes
one, served by http.server), and an OCI registry (`oci_registry`: the CNCF distribution registry, Debian's
docker-registry) with `push_chart` pushing an archive to it as Helm pushes a chart. Not a test module."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import io
import json
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from compiler.load.charts import pack
from compiler.load.source import DirectorySource

CREATED = "2024-01-01T00:00:00Z"  # every index entry's creation time: the same index for the same archives
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
HELM_CONFIG_TYPE = "application/vnd.cncf.helm.config.v1+json"
HELM_CONTENT_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
REGISTRY = shutil.which("docker-registry") or shutil.which("registry")


# --- chart archives -----------------------------------------------------------------------------------------------

def pack_folder(path: Path) -> tuple[str, str, bytes]:
    """A chart folder packed as easel packs an in-house chart: its name, its version and the archive's bytes."""
    name, data = pack(DirectorySource(path.parent), path.name)
    return name, chart_metadata(data)["version"], data


def chart_metadata(archive: bytes) -> dict:
    """The Chart.yaml of a chart archive (the file `<name>/Chart.yaml` at the archive's top)."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if len(parts) == 2 and parts[1] == "Chart.yaml":
                handle = tar.extractfile(member)
                if handle is not None:
                    return yaml.safe_load(handle.read())
    raise ValueError("not a chart archive: no <name>/Chart.yaml")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- a Helm HTTP repository ---------------------------------------------------------------------------------------

def repository_index(archives: dict[str, bytes]) -> dict:
    """The index.yaml of a repository holding these archives, as `helm repo index` writes it: each entry is the
    chart's Chart.yaml with `urls` (the archive's file name, relative to the index), `digest` (the archive's
    sha256, hex) and `created`; a chart's versions newest first."""
    entries: dict[str, list[dict]] = {}
    for data in archives.values():
        meta = chart_metadata(data)
        entry = {**meta, "urls": [f"{meta['name']}-{meta['version']}.tgz"], "digest": sha256(data),
                 "created": CREATED}
        entries.setdefault(meta["name"], []).append(entry)
    for versions in entries.values():
        versions.sort(key=lambda entry: _release(entry["version"]), reverse=True)
    return {"apiVersion": "v1", "entries": dict(sorted(entries.items())), "generated": CREATED}


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("-")[0].split("+")[0].split("."))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # no line per request on the test's output
        pass


@contextlib.contextmanager
def http_helm_repository(folder: Path, archives: dict[str, bytes]) -> Iterator[str]:
    """A Helm chart repository served from folder on 127.0.0.1 (a free port), holding archives (keyed by any
    label, say the chart's name: each archive's name and version are read from its Chart.yaml) as
    `<name>-<version>.tgz` beside an `index.yaml`. Yields the repository's URL (no trailing slash)."""
    folder.mkdir(parents=True, exist_ok=True)
    for data in archives.values():
        meta = chart_metadata(data)
        (folder / f"{meta['name']}-{meta['version']}.tgz").write_bytes(data)
    (folder / "index.yaml").write_text(yaml.safe_dump(repository_index(archives), sort_keys=True))
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="helm-repository", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


# --- an OCI registry ----------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def oci_registry(tmp_path: Path) -> Iterator[str]:
    """A CNCF distribution registry on 127.0.0.1 (plain HTTP, no authentication), storing under tmp_path; yields
    `host:port`. Skips the test when no registry binary is installed."""
    if REGISTRY is None:
        pytest.skip("no OCI registry to test against: install Debian's docker-registry (.ci/run does)")
    folder = tmp_path / "registry"
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = folder / "config.yml"
    config.write_text(yaml.safe_dump({"version": 0.1, "log": {"level": "error"},
                                      "storage": {"filesystem": {"rootdirectory": str(folder / "data")}},
                                      "http": {"addr": f"127.0.0.1:{port}"}}))
    server = subprocess.Popen([REGISTRY, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(f"http://127.0.0.1:{port}/v2/", server)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


def _wait_for(url: str, server: subprocess.Popen) -> None:
    for _ in range(100):
        if server.poll() is not None:
            pytest.fail(f"the registry stopped at once (exit status {server.returncode})")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail("the registry did not start within 10 s")


def helm_config(archive: bytes) -> bytes:
    """The config blob of a Helm OCI chart: the chart's Chart.yaml as JSON."""
    return json.dumps(chart_metadata(archive), separators=(",", ":")).encode()


def chart_manifest(archive: bytes) -> bytes:
    """The OCI image manifest of a chart as Helm pushes one: the config (Chart.yaml as JSON) and one layer, the
    archive as it is."""
    meta, config = chart_metadata(archive), helm_config(archive)
    annotations = {"org.opencontainers.image.title": meta["name"],
                   "org.opencontainers.image.version": meta["version"]}
    if meta.get("description"):
        annotations["org.opencontainers.image.description"] = meta["description"]
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST_TYPE,
                "config": {"mediaType": HELM_CONFIG_TYPE, "digest": f"sha256:{sha256(config)}",
                           "size": len(config)},
                "layers": [{"mediaType": HELM_CONTENT_TYPE, "digest": f"sha256:{sha256(archive)}",
                            "size": len(archive)}],
                "annotations": annotations}
    return json.dumps(manifest, separators=(",", ":")).encode()


def push_chart(registry: str, repo: str, name: str, version: str, archive: bytes) -> str:
    """Push a chart archive to `<registry>/<repo>/<name>:<version>` over plain HTTP, as `helm push` stores it (so
    `helm pull oci://<registry>/<repo>/<name> --version <version>` finds it), through the OCI distribution API.
    Returns the manifest's digest (`sha256:<hex>`)."""
    meta = chart_metadata(archive)
    if (meta["name"], meta["version"]) != (name, version):
        raise ValueError(f"the archive holds {meta['name']} {meta['version']}, not {name} {version}")
    base = f"http://{registry}/v2/{repo.strip('/')}/{name}"
    for blob in (helm_config(archive), archive):
        _upload_blob(base, blob)
    manifest = chart_manifest(archive)
    request = urllib.request.Request(f"{base}/manifests/{version}", data=manifest, method="PUT",
                                     headers={"Content-Type": MANIFEST_TYPE})
    with urllib.request.urlopen(request, timeout=30) as response:
        stored = response.headers.get("Docker-Content-Digest")
    digest = f"sha256:{sha256(manifest)}"
    if stored and stored != digest:
        raise ValueError(f"the registry stored the manifest as {stored}, not {digest}")
    return digest


def _upload_blob(base: str, blob: bytes) -> None:
    """A blob uploaded in one piece: POST opens an upload session, PUT to its Location with the digest closes it."""
    request = urllib.request.Request(f"{base}/blobs/uploads/", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        location = urllib.parse.urljoin(base, response.headers["Location"])
    separator = "&" if "?" in location else "?"
    target = f"{location}{separator}digest=sha256:{sha256(blob)}"
    request = urllib.request.Request(target, data=blob, method="PUT",
                                     headers={"Content-Type": "application/octet-stream"})
    urllib.request.urlopen(request, timeout=30).close()
