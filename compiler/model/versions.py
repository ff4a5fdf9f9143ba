"""Semantic versions and npm/Helm-style ranges, through node-semver: "1.2.0", "^1.2", "~1.3", ">=1.2 <2",
">=1.2, <2" (Helm's comma), "1.x", "*". The one place that knows version syntax."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import nodesemver

_KUBERNETES = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")
_COMMA = re.compile(r"\s*,\s*")


@lru_cache(maxsize=4096)
def parse_version(text: str):
    """A nodesemver.SemVer, or None when text is not a strict semantic version (written plainly: node-semver would
    take " 1.3.0" or "v1.3.0", which then would not read back as written)."""
    if not isinstance(text, str) or text != text.strip() or text[:1] in ("v", "V", "=") or " " in text:
        return None
    try:
        return nodesemver.make_semver(text, loose=False)
    except (ValueError, TypeError):
        return None


@lru_cache(maxsize=4096)
def parse_range(text: str):
    """A nodesemver.Range, or None when text is not a valid range."""
    spelled = _COMMA.sub(" ", text).strip() if isinstance(text, str) else ""  # Helm's comma joins as npm's space
    if not spelled:
        return None
    try:
        parsed = nodesemver.make_range(spelled, loose=False)
    except (ValueError, TypeError):
        return None
    # node-semver accepts some garbage as an empty set; an empty set is never what a person meant
    if not parsed.set or any(not comparators for comparators in parsed.set):
        return None
    return parsed


def is_version(text: object) -> bool:
    return isinstance(text, str) and parse_version(text) is not None


def is_range(text: object) -> bool:
    return isinstance(text, str) and parse_range(text) is not None


def satisfies(version: str, range_text: str) -> bool:
    parsed_version, parsed_range = parse_version(version), parse_range(range_text)
    if parsed_version is None or parsed_range is None:
        return False
    return parsed_range.test(parsed_version)


def sort_key(version: str):
    """Orders versions by semantic-version precedence."""
    return _Key(version)


class _Key:
    __slots__ = ("semver",)

    def __init__(self, version: str):
        self.semver = parse_version(version)

    def __lt__(self, other: _Key) -> bool:
        return self.semver.compare(other.semver) < 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and self.semver.compare(other.semver) == 0


def highest(versions: Iterable[str], *ranges: str) -> str | None:
    """The highest version that satisfies every range."""
    best = None
    for version in versions:
        if all(satisfies(version, r) for r in ranges) and (best is None or sort_key(best) < sort_key(version)):
            best = version
    return best


def kubernetes_version(text: str) -> str | None:
    """"v1.30.5+k3s1" -> "1.30.5"; "1.29" -> "1.29.0"; None when no version can be read."""
    match = _KUBERNETES.match(text.strip()) if isinstance(text, str) else None
    if not match:
        return None
    major, minor, patch = match.groups()
    return f"{int(major)}.{int(minor)}.{int(patch or 0)}"
