"""`easel publish --oci REGISTRY/REPO`: each cluster's tree as an OCI artifact of its own, `REPO/<cluster>`, so
that a cluster reconciles when its own tree changes rather than on every commit to the fleet's repository.

An artifact holds one gzipped tarball of the cluster's folder (its files at the root), made the same way every
time (sorted, no times, no owners), so the same tree gives the same digest and an unchanged cluster is not
pushed again. Flux clusters get what `flux push artifact` writes (Flux's config and content media types, and the
OCI source, revision and created annotations), which an `OCIRepository` accepts; Argo CD clusters get the OCI
image layer type that Argo CD's OCI source extracts by default (3.1+). The registry is spoken to with oras, the
ORAS project's Python client (credentials from the Docker config, as the `oras` and `flux` CLIs read them).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
FLUX_CONFIG_TYPE = "application/vnd.cncf.flux.config.v1+json"
FLUX_CONTENT_TYPE = "application/vnd.cncf.flux.content.v1.tar+gzip"
OCI_CONFIG_TYPE = "application/vnd.oci.empty.v1+json"
OCI_LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_TYPES = {"flux": (FLUX_CONFIG_TYPE, FLUX_CONTENT_TYPE), "argocd": (OCI_CONFIG_TYPE, OCI_LAYER_TYPE)}
CONFIG = b"{}"
_REFERENCE = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")


class PublishError(Exception):
    pass


def check_reference(repository: str, tags: tuple[str, ...]) -> None:
    if not _REFERENCE.match(repository):
        raise PublishError(f"{repository!r} is not a registry and repository such as registry.example.com/fleet")
    for tag in tags:
        if not _TAG.match(tag):
            raise PublishError(f"{tag!r} is not an OCI tag (letters, digits, '_', '.', '-'; at most 128)")


def tarball(files: dict[str, bytes]) -> bytes:
    """The files (paths relative to the artifact's root) as a .tar.gz that is the same bytes every time."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        folders = sorted({"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)})
        for name in sorted([*folders, *files]):
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if name in files:
                info.size, info.mode = len(files[name]), 0o644
                archive.addfile(info, io.BytesIO(files[name]))
            else:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                archive.addfile(info)
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0) as zipped:
        zipped.write(raw.getvalue())
    return packed.getvalue()


def files_of(blob: bytes) -> dict[str, bytes]:
    """The files of an artifact's tarball (for checking what a registry holds)."""
    found = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob)), mode="r") as archive:
        for member in archive.getmembers():
            if member.isfile():
                handle = archive.extractfile(member)
                found[member.name] = handle.read() if handle else b""
    return found


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Artifact:
    cluster: str
    engine: str
    layer: bytes

    @property
    def layer_digest(self) -> str:
        return _digest(self.layer)

    def manifest(self, annotations: dict[str, str]) -> dict:
        config_type, layer_type = MEDIA_TYPES[self.engine]
        return {"schemaVersion": 2, "mediaType": MANIFEST_TYPE,
                "config": {"mediaType": config_type, "digest": _digest(CONFIG), "size": len(CONFIG)},
                "layers": [{"mediaType": layer_type, "digest": self.layer_digest, "size": len(self.layer)}],
                "annotations": dict(sorted(annotations.items()))}


@dataclass(frozen=True)
class Pushed:
    cluster: str
    reference: str  # REPO/<cluster>
    digest: str  # the manifest's
    changed: bool  # False: the registry held this tree already under the moving tag


def artifacts(files: dict[str, str], engines: dict[str, str]) -> list[Artifact]:
    """One artifact per cluster, from the output tree (clusters/<cluster>/...)."""
    trees: dict[str, dict[str, bytes]] = {}
    for path, text in files.items():
        if path.startswith("clusters/"):
            cluster, _, rest = path[len("clusters/"):].partition("/")
            trees.setdefault(cluster, {})[rest] = text.encode()
    return [Artifact(cluster, engines.get(cluster, "flux"), tarball(tree)) for cluster, tree in sorted(trees.items())]


def push(repository: str, found: list[Artifact], tags: tuple[str, str], annotations: dict[str, str],
         plain_http: bool, workdir: Path) -> list[Pushed]:
    """Push each artifact whose layer the registry does not hold under the moving tag (tags: the revision's, then
    the moving one). workdir: a folder of easel's own for the blobs on their way."""
    import oras.container
    import oras.provider
    import requests

    host = repository.split("/", 1)[0]
    _reachable(host, plain_http)
    registry = oras.provider.Registry(hostname=host, insecure=plain_http)
    revision, moving = tags
    done = []
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "config.json"
    config_path.write_bytes(CONFIG)
    try:
        for artifact in found:
            name = f"{repository}/{artifact.cluster}"
            target = oras.container.Container(f"{name}:{moving}")
            manifest = artifact.manifest(annotations)
            current, current_digest = _current(registry, target)
            if _layer_digest(current) == artifact.layer_digest:
                done.append(Pushed(artifact.cluster, name, current_digest or "", False))
                continue
            layer_path = workdir / "layer.tar.gz"
            layer_path.write_bytes(artifact.layer)
            for blob, descriptor in ((layer_path, manifest["layers"][0]), (config_path, manifest["config"])):
                if not registry.blob_exists(descriptor, target):
                    response = registry.upload_blob(str(blob), target, descriptor)
                    _ok(response, f"uploading a blob of {name}")
            for tag in (revision, moving):
                response = registry.upload_manifest(manifest, oras.container.Container(f"{name}:{tag}"))
                _ok(response, f"pushing {name}:{tag}")
            # the registry's own digest of what it stored; else that of the bytes requests sends (json.dumps)
            stored = response.headers.get("Docker-Content-Digest") or _digest(json.dumps(manifest).encode())
            done.append(Pushed(artifact.cluster, name, stored, True))
    except requests.RequestException as exc:
        raise PublishError(f"cannot reach the registry {host}: {exc}") from None
    finally:
        for leftover in ("layer.tar.gz", "config.json"):
            with contextlib.suppress(OSError):
                os.unlink(workdir / leftover)
    return done


def _reachable(host: str, plain_http: bool) -> None:
    """Fail at once when nothing answers: oras retries a refused connection for minutes, with growing pauses."""
    import requests

    try:
        requests.get(f"{'http' if plain_http else 'https'}://{host}/v2/", timeout=10)
    except requests.RequestException as exc:
        over = ("over HTTP (--plain-http)" if plain_http
                else "over HTTPS (a registry without TLS on your own machine needs --plain-http)")
        raise PublishError(f"cannot reach the registry {host} {over}: {type(exc).__name__}") from None


def _current(registry, target) -> tuple[dict | None, str | None]:
    """The manifest under a tag and its digest; (None, None) when there is none yet."""
    response = registry.do_request(f"{registry.prefix}://{target.manifest_url()}", "GET",
                                   headers={"Accept": MANIFEST_TYPE})
    if response.status_code != 200:
        return None, None
    try:
        found = response.json()
    except ValueError:
        return None, None
    return (found if isinstance(found, dict) else None), response.headers.get("Docker-Content-Digest")


def _layer_digest(manifest: dict | None) -> str | None:
    layers = manifest.get("layers") if isinstance(manifest, dict) else None
    return layers[0].get("digest") if isinstance(layers, list) and layers and isinstance(layers[0], dict) else None


def _ok(response, what: str) -> None:
    if response.status_code not in (200, 201, 202):
        raise PublishError(f"{what}: the registry answered {response.status_code} {response.text[:200]}")


def pull(repository: str, cluster: str, tag: str, plain_http: bool) -> tuple[dict, dict[str, bytes]]:
    """The manifest and files of a cluster's artifact (for tests, and to check a publish)."""
    import oras.container
    import oras.provider

    registry = oras.provider.Registry(hostname=repository.split("/", 1)[0], insecure=plain_http)
    target = oras.container.Container(f"{repository}/{cluster}:{tag}")
    manifest = registry.get_manifest(target, allowed_media_type=[MANIFEST_TYPE])
    blob = registry.get_blob(target, manifest["layers"][0]["digest"])
    return manifest, files_of(blob.content)
