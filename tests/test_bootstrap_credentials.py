"""`gitops.secretRef`: the Secret (in flux-system) with which each Flux cluster's bootstrap source reads the
rendered repository or the cluster's OCI artifact; never credentials themselves. Argo CD finds repository
credentials by the URL (a repository Secret of its own convention), so its bootstrap is unchanged."""

from __future__ import annotations

import k8s_schemas
import pytest
import yaml
from conftest import CRDS, CRDS_ABSENT, copy_init_repo, easel, write_files

SETTINGS = """
apiVersion: easel.dev/v1alpha1
kind: Settings
spec:
  gitops: {{engine: {engine}, repoURL: https://git.example.org/platform/fleet.git, secretRef: fleet-git{more}}}
"""


def _bootstrap_sources(repo) -> list[dict]:
    return [doc for path in sorted((repo / "output/bootstrap/flux").glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if doc and doc["kind"] in ("GitRepository", "OCIRepository")]


@pytest.mark.parametrize("delivery", ["git", "oci"])
def test_each_flux_bootstrap_source_reads_with_the_named_secret(tmp_path, delivery):
    repo = copy_init_repo(tmp_path / "repo")
    more = ", delivery: oci, oci: {repository: registry.example.org/platform/fleet}" if delivery == "oci" else ""
    write_files(repo, {"easel.yaml": SETTINGS.format(engine="flux", more=more)})
    run = easel("compile", cwd=repo)
    assert run.code == 0, run.text
    sources = _bootstrap_sources(repo)
    assert sources and all(source["spec"]["secretRef"] == {"name": "fleet-git"} for source in sources)
    assert {source["kind"] for source in sources} == {"OCIRepository" if delivery == "oci" else "GitRepository"}


@pytest.mark.skipif(not CRDS.is_dir(), reason=CRDS_ABSENT)
@pytest.mark.parametrize("delivery", ["git", "oci"])
def test_a_source_with_a_secret_validates_against_the_upstream_crd(tmp_path, delivery):
    repo = copy_init_repo(tmp_path / "repo")
    more = ", delivery: oci, oci: {repository: registry.example.org/platform/fleet}" if delivery == "oci" else ""
    write_files(repo, {"easel.yaml": SETTINGS.format(engine="flux", more=more)})
    assert easel("compile", cwd=repo).code == 0
    for source in _bootstrap_sources(repo):
        assert not k8s_schemas.validate_custom(source, CRDS), source


def test_without_a_secret_the_bootstrap_source_names_none(tmp_path):
    repo = copy_init_repo(tmp_path / "repo")
    assert easel("compile", cwd=repo).code == 0
    assert all("secretRef" not in source["spec"] for source in _bootstrap_sources(repo))


def test_a_secret_name_that_is_not_a_kubernetes_name_is_refused(tmp_path):
    repo = copy_init_repo(tmp_path / "repo")
    write_files(repo, {"easel.yaml": SETTINGS.format(engine="flux", more="").replace("fleet-git", "Fleet_Git")})
    run = easel("validate", cwd=repo)
    assert run.code == 1 and "easel.yaml" in run.text and "secretRef" in run.text
