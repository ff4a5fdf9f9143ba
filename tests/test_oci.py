"""`easel publish --oci`: each cluster's tree pushed to a real registry (the CNCF distribution registry, Debian's
docker-registry, started here on loopback) and pulled back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, easel, tree
from helm_servers import free_port, oci_registry

from compiler.commands import oci

sys.path.insert(0, str(ROOT / "bench"))
import fleet


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """Debian's docker-registry on loopback for the module (tests/helm_servers.py starts it, or skips saying why)."""
    with oci_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=Easel Test", "-c", "user.email=test@example.com", *args], cwd=repo,
                   check=True, capture_output=True)


def _published_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    fleet.write_easel_repo(fleet.fleet(4, 2, 9, True), repo)  # two Flux clusters, two Argo CD clusters
    assert easel("compile", cwd=repo).code == 0
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "fleet")
    return repo


def _head(repo: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()


def test_each_cluster_is_pushed_and_pulled_back_as_it_is_in_the_output(tmp_path, registry):
    repo = _published_repo(tmp_path)
    run = easel("publish", "--oci", f"{registry}/fleet", "--plain-http", cwd=repo)
    assert run.code == 0, run.text
    clusters = sorted(p.name for p in (repo / "output/clusters").iterdir())
    assert f"pushed {len(clusters)} of {len(clusters)} clusters" in run.out
    assert run.out.count("@sha256:") == len(clusters)
    engines = {}
    for cluster in clusters:
        for tag in ("latest", _head(repo)[:12]):
            manifest, files = oci.pull(f"{registry}/fleet", cluster, tag, plain_http=True)
            assert files == tree(repo / "output/clusters" / cluster)
        engines[cluster] = manifest["layers"][0]["mediaType"]
        assert manifest["annotations"]["org.opencontainers.image.revision"] == f"main@sha1:{_head(repo)}"
        assert "org.opencontainers.image.created" in manifest["annotations"]
        if engines[cluster] == oci.FLUX_CONTENT_TYPE:
            assert manifest["config"]["mediaType"] == oci.FLUX_CONFIG_TYPE
    assert set(engines.values()) == {oci.FLUX_CONTENT_TYPE, oci.OCI_LAYER_TYPE}


def test_only_the_clusters_whose_tree_changed_are_pushed_again(tmp_path, registry):
    repo = _published_repo(tmp_path)
    assert easel("publish", "--oci", f"{registry}/again", "--plain-http", cwd=repo).code == 0
    again = easel("publish", "--oci", f"{registry}/again", "--plain-http", cwd=repo)
    assert again.code == 0 and "pushed 0 of 4 clusters" in again.out and "(4 unchanged)" in again.out
    cluster = next(p for p in sorted((repo / "clusters").glob("*.yaml")) if "engine: argocd" in p.read_text())
    cluster.write_text(cluster.read_text().replace("  gitops:\n    engine: argocd\n", ""))  # moves to Flux
    assert easel("compile", cwd=repo).code == 0
    _git(repo, "commit", "-qam", "a cluster moves to Flux")
    run = easel("publish", "--oci", f"{registry}/again", "--plain-http", cwd=repo)
    assert run.code == 0 and "pushed 1 of 4 clusters" in run.out, run.text
    _, files = oci.pull(f"{registry}/again", cluster.stem, "latest", plain_http=True)
    assert files == tree(repo / "output/clusters" / cluster.stem)


def test_an_unreachable_registry_is_an_error_not_a_traceback(tmp_path):
    repo = _published_repo(tmp_path)
    run = easel("publish", "--oci", f"127.0.0.1:{free_port()}/fleet", "--plain-http", cwd=repo)
    assert run.code == 1 and "error[E907]" in run.text and "Traceback" not in run.text, run.text
    assert "over HTTP (--plain-http): " in run.err and run.err.count("--plain-http") == 1, run.text  # not again
    tls = easel("publish", "--oci", f"127.0.0.1:{free_port()}/fleet", cwd=repo)
    assert tls.code == 1 and "over HTTPS (a registry without TLS on your own machine needs --plain-http)" in tls.err
    bad = easel("publish", "--oci", "Not A Registry", cwd=repo)
    assert bad.code == 1 and "error[E907]" in bad.text


def test_the_tarball_is_the_same_bytes_every_time():
    files = {"kustomization.yaml": b"resources: []\n", "flux/layers/a.yaml": b"kind: Kustomization\n"}
    first = oci.tarball(files)
    assert first == oci.tarball(dict(reversed(list(files.items()))))
    assert oci.files_of(first) == files
