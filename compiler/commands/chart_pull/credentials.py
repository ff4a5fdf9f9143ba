"""A login for an OCI registry, found where `docker login` (and `helm registry login`) keep it, as the `oras` and
`flux` clients find it (and as `easel publish --oci` does, through oras): Docker's config.json ($DOCKER_CONFIG, or
~/.docker), then Helm's registry config ($HELM_REGISTRY_CONFIG, or ~/.config/helm/registry/config.json). An entry
of `auths` (its `auth`, or `username` and `password`), else the credential helper of `credHelpers` for the host,
else the `credsStore` one (`docker-credential-<name> get`).

A Repository's `secretRef` is never a credential for easel: it names a secret on the cluster, for the cluster.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

_DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")
_HELPER_TIMEOUT = 30


def _configs() -> list[Path]:
    docker = Path(os.environ["DOCKER_CONFIG"]) if os.environ.get("DOCKER_CONFIG") else Path.home() / ".docker"
    helm = (Path(os.environ["HELM_REGISTRY_CONFIG"]) if os.environ.get("HELM_REGISTRY_CONFIG") else
            Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "helm" / "registry" / "config.json")
    return [docker / "config.json", helm]


def _names(host: str) -> list[str]:
    """The keys a login for host may be kept under."""
    names = [host, f"https://{host}", f"http://{host}", f"https://{host}/v1/", f"https://{host}/v2/"]
    if host in _DOCKER_HUB:
        names.append("https://index.docker.io/v1/")
    return names


def basic(host: str) -> str | None:
    """`base64(user:password)` of a login for host, or None."""
    for path in _configs():
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(config, dict):
            continue
        found = _from_auths(config.get("auths"), host) or _from_helper(config, host)
        if found:
            return found
    return None


def _from_auths(auths: object, host: str) -> str | None:
    if not isinstance(auths, dict):
        return None
    for name in _names(host):
        entry = auths.get(name)
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            return entry["auth"]
        if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
            return _encode(entry["username"], entry["password"])
    return None


def _from_helper(config: dict, host: str) -> str | None:
    helpers = config.get("credHelpers")
    helper = (helpers.get(host) if isinstance(helpers, dict) else None) or config.get("credsStore")
    if not isinstance(helper, str) or not helper or "/" in helper:
        return None
    try:
        answer = subprocess.run([f"docker-credential-{helper}", "get"], input=host.encode(), capture_output=True,
                                timeout=_HELPER_TIMEOUT, check=True)
        found = json.loads(answer.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    user, secret = (found.get("Username"), found.get("Secret")) if isinstance(found, dict) else (None, None)
    return _encode(user, secret) if isinstance(user, str) and isinstance(secret, str) and secret else None


def _encode(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()
