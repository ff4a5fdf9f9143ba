"""Where each cluster's engine finds its tree: the rendered Git repository (`gitops.delivery: git`, the default),
or the cluster's own OCI artifact (`delivery: oci`: `oci://REGISTRY/REPO/<cluster>`, which `easel publish --oci`
pushes), and the paths of its folders inside that source. In an artifact the cluster's folder is the root."""

from __future__ import annotations

from typing import Any

from compiler.model import Settings

SOURCE = "easel"  # the Flux source (GitRepository or OCIRepository) each cluster's bootstrap creates


def is_oci(settings: Settings) -> bool:
    return settings.delivery == "oci"


def flux_source_ref(settings: Settings) -> dict[str, str]:
    return {"kind": "OCIRepository" if is_oci(settings) else "GitRepository", "name": SOURCE}


def flux_path(settings: Settings, cluster: str, folder: str) -> str:
    """A folder of the cluster's tree, as a Flux Kustomization's path in its source."""
    return f"./{folder}" if is_oci(settings) else f"./{settings.output}/clusters/{cluster}/{folder}"


def argo_repo_url(settings: Settings, cluster: str) -> str:
    return f"oci://{settings.oci_repository}/{cluster}" if is_oci(settings) else settings.repo_url


def argo_source(settings: Settings, cluster: str, folder: str) -> dict[str, Any]:
    """A folder of the cluster's tree ("" for the whole tree), as an Argo CD Application's source."""
    if is_oci(settings):
        return {"repoURL": argo_repo_url(settings, cluster), "targetRevision": settings.oci_tag,
                "path": folder or "."}
    path = f"{settings.output}/clusters/{cluster}" + (f"/{folder}" if folder else "")
    return {"repoURL": settings.repo_url, "targetRevision": settings.branch, "path": path}


def flux_bootstrap_source(settings: Settings, cluster: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    """The source each Flux cluster's bootstrap creates: the rendered repository, or the cluster's own OCI
    artifact, read with `gitops.secretRef` when the settings name one (a Secret in flux-system)."""
    metadata = {"name": SOURCE, "namespace": namespace, "labels": dict(labels)}
    credentials = {"secretRef": {"name": settings.git_secret_ref}} if settings.git_secret_ref else {}
    if is_oci(settings):
        spec: dict[str, Any] = {"interval": settings.interval, "url": argo_repo_url(settings, cluster),
                                "ref": {"tag": settings.oci_tag}, **credentials}
        if settings.oci_insecure:
            spec["insecure"] = True
        return {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository", "metadata": metadata,
                "spec": spec}
    return {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "metadata": metadata,
            "spec": {"interval": settings.interval, "url": settings.repo_url, "ref": {"branch": settings.branch},
                     **credentials}}
