"""Where a chart version's archive comes from, and its bytes, checked against what the repository says of them.

- An HTTP Helm repository (`type: helm`): its `index.yaml` (read once a run, by the one YAML reader), the entry of
  the chart at that version, its first url (relative to the repository's, or absolute), and the archive's sha256
  against the entry's `digest` when the index gives one (Helm's own client does not check it; easel does).
- An OCI registry (`type: oci`, `oci://HOST/PATH`): the chart is `HOST/PATH/<chart>:<version>` (`+` in a version
  is `_` in its tag, as Helm pushes it); its image manifest, the layer of Helm's chart content type, and that
  blob, checked against the layer's digest. Plain HTTP for a registry on this machine (loopback), or with
  --plain-http; else HTTPS.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from typing import Any

from compiler.commands.chart_pull.transport import FetchError, Session, is_loopback, once, status_error
from compiler.load import yamlio
from compiler.load.charts import MAX_CHART
from compiler.model import Repository

MAX_INDEX = 256 * 2**20  # the largest index.yaml read (public ones run to tens of MiB)
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CHART_LAYER_TYPES = ("application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                     "application/tar+gzip")  # the second: what Helm 3.0 to 3.7 pushed
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")


class Fetcher:
    """Chart archives from the repositories, over one Session (indexes read once)."""

    def __init__(self, plain_http: bool = False, session: Session | None = None):
        self.plain_http = plain_http
        self.session = session or Session()
        self.indexes: dict[str, dict[str, Any] | FetchError] = {}
        # (repository, chart, version) -> the digest of the OCI manifest a chart was pulled by (what Flux pins)
        self.manifests: dict[tuple[str, str, str], str] = {}

    def fetch(self, repository: Repository, chart: str, version: str) -> bytes:
        """The archive's bytes; FetchError when they cannot be had, or are not what the repository says."""
        if repository.type == "helm":
            return self._from_index(repository, chart, version)
        if repository.type == "oci":
            return self._from_registry(repository, chart, version)
        raise FetchError(f"a {repository.type} repository is not fetched from")

    # --- an HTTP Helm repository ----------------------------------------------------------------------------------

    def _index(self, repository: Repository) -> dict[str, Any]:
        """The index's `entries`, read once a run (a failure too)."""
        url = repository.url.rstrip("/")
        return once(self.indexes, url, lambda: _entries(self.session, f"{url}/index.yaml"))

    def _from_index(self, repository: Repository, chart: str, version: str) -> bytes:
        entries = self._index(repository)
        published = entries.get(chart)
        published = published if isinstance(published, list) else []
        entry = next((e for e in published if isinstance(e, dict) and str(e.get("version")) == version), None)
        if entry is None:
            versions = [str(e.get("version")) for e in published if isinstance(e, dict)]
            raise FetchError(f"{repository.url}/index.yaml has no chart {chart} {version}" + (
                f" (it has {', '.join(versions[:8])}{', …' if len(versions) > 8 else ''})" if versions else
                " (nor any version of it)"))
        urls = entry.get("urls")
        if not isinstance(urls, list) or not urls or not isinstance(urls[0], str) or not urls[0]:
            raise FetchError(f"{repository.url}/index.yaml gives no url for chart {chart} {version}")
        url = urllib.parse.urljoin(repository.url.rstrip("/") + "/", urls[0])
        response = self.session.get(url, MAX_CHART)
        if response.status != 200:
            raise status_error(response, f"downloading chart {chart} {version}")
        expected = entry.get("digest")
        if isinstance(expected, str) and expected:
            found = hashlib.sha256(response.body).hexdigest()
            if found != expected.removeprefix("sha256:").lower():
                raise FetchError(f"{url} is not the archive the index describes: its sha256 is {found}, the "
                                 f"index says {expected}", "E910")
        return response.body

    # --- an OCI registry ------------------------------------------------------------------------------------------

    def _from_registry(self, repository: Repository, chart: str, version: str) -> bytes:
        host, _, path = repository.url.removeprefix("oci://").strip("/").partition("/")
        name = f"{path}/{chart}" if path else chart
        if not host or ".." in name.split("/"):
            raise FetchError(f"{repository.url!r} is not an OCI repository address such as oci://HOST/PATH")
        scheme = "http" if self.plain_http or is_loopback(host) else "https"
        base = f"{scheme}://{host}/v2/{name}"
        reference = f"{host}/{name}:{version}"
        response = self.session.registry_get(host, name, f"{base}/manifests/{version.replace('+', '_')}", 4 << 20,
                                             MANIFEST_TYPE)
        if response.status != 200:
            raise status_error(response, f"the manifest of {reference}")
        layer = _chart_layer(response.body, reference)
        self.manifests[(repository.meta.name, chart, version)] = "sha256:" + hashlib.sha256(response.body).hexdigest()
        digest = layer["digest"]
        blob = self.session.registry_get(host, name, f"{base}/blobs/{digest}", MAX_CHART)
        if blob.status != 200:
            raise status_error(blob, f"the chart layer of {reference}")
        found = "sha256:" + hashlib.sha256(blob.body).hexdigest()
        if found != digest:
            raise FetchError(f"the chart layer of {reference} is not the blob its manifest names: {found}, the "
                             f"manifest says {digest}", "E910")
        return blob.body


def _entries(session: Session, url: str) -> dict[str, Any]:
    response = session.get(url, MAX_INDEX)
    if response.status != 200:
        raise status_error(response, "the repository's index")
    try:
        text = response.body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FetchError(f"{url} is not UTF-8 text") from None
    documents, problems = yamlio.parse(text)
    if problems:
        raise FetchError(f"{url} is not YAML (line {problems[0].line}: {problems[0].message})")
    data = documents[0].data if len(documents) == 1 else None
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise FetchError(f"{url} is not a Helm repository index (no `entries`)")
    return entries


def _chart_layer(body: bytes, reference: str) -> dict[str, Any]:
    """The manifest's chart layer: its digest (sha256) and size checked."""
    try:
        manifest = json.loads(body)
    except ValueError:
        raise FetchError(f"the manifest of {reference} is not JSON") from None
    layers = manifest.get("layers") if isinstance(manifest, dict) else None
    found = [layer for kind in CHART_LAYER_TYPES for layer in (layers if isinstance(layers, list) else ())
             if isinstance(layer, dict) and layer.get("mediaType") == kind]
    if not found:
        raise FetchError(f"{reference} is not a Helm chart: its manifest has no layer of type {CHART_LAYER_TYPES[0]}")
    layer = found[0]
    digest, size = layer.get("digest"), layer.get("size")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise FetchError(f"the chart layer of {reference} has no sha256 digest ({digest!r})")
    if isinstance(size, int) and size > MAX_CHART:
        raise FetchError(f"the chart layer of {reference} is over {MAX_CHART // 2**20} MiB")
    return layer
