"""Names: the one name shortener (names longer than Kubernetes or Helm allow get a deterministic hash suffix), and
what a chart's name may be."""

from __future__ import annotations

import hashlib
import re

DNS_LABEL_MAX = 63
HELM_RELEASE_MAX = 53

# a chart's name as a repository serves it, never a path (no `/`, no leading `.`): archives are stored and looked
# up by it (the schemas' chart-name format, and an in-house chart's Chart.yaml)
CHART_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,249}$"


def digest(text: str, length: int = 8) -> str:
    """Hex digits of text's SHA-256: the same on every machine."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def shorten(name: str, limit: int = DNS_LABEL_MAX) -> str:
    """name when it fits; else a prefix of it, '-', and 8 hex digits of its SHA-256 (only hex digits when the
    limit leaves no room for a prefix). Never longer than limit."""
    if len(name) <= limit:
        return name
    if limit < 10:
        return digest(name, limit)
    return f"{name[:limit - 9].rstrip('-.')}-{digest(name)}"


def join(*parts: str, limit: int = DNS_LABEL_MAX) -> str:
    return shorten("-".join(p for p in parts if p), limit)


def slug(text: str, limit: int = DNS_LABEL_MAX) -> str:
    """A DNS-label-like name for text taken from input (a chart name, a version) that must become part of a name
    or a path: lowercase letters, digits and single dashes; when that changed anything but case and dots, a hash of
    the text is added, so that different texts never give one slug."""
    plain = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9]+", "-", text.lower())).strip("-") or "x"
    if plain != text.lower().replace(".", "-").replace("+", "-"):
        plain = f"{plain}-{digest(text)}"
    return shorten(plain, limit)
