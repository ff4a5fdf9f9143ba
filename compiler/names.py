"""The one name shortener: names longer than Kubernetes or Helm allow get a deterministic hash suffix."""

from __future__ import annotations

import hashlib

DNS_LABEL_MAX = 63
HELM_RELEASE_MAX = 53


def shorten(name: str, limit: int = DNS_LABEL_MAX) -> str:
    """name when it fits; else a prefix of it, '-', and 8 hex digits of its SHA-256 (stable across machines)."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:limit - 9].rstrip('-.')}-{digest}"


def join(*parts: str, limit: int = DNS_LABEL_MAX) -> str:
    return shorten("-".join(p for p in parts if p), limit)
