"""kustomize's `patches` and `images` as kustomize applies them, for what the proof builds (a chart's rendered
objects, a kustomize folder the tree carries): a patch's target selects by kind, group and version (equal) and
by name and namespace (regular expressions matched whole, "*" a name like any other); the patch is kustomize's
strategic merge (kube/merge.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from compiler.kube import images, merge
from compiler.load import yamlio

Patch = tuple[dict[str, Any], dict[str, Any]]  # (target, the patch object)


def patches_of(entries: Any, read: Callable[[str], str | None] = lambda path: None) -> list[Patch]:
    """The `patches` entries that can be read: an inline `patch`, or a `path` read with `read` (None: unread)."""
    found = []
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict):
            continue
        text = entry.get("patch")
        if not isinstance(text, str) and isinstance(entry.get("path"), str):
            text = read(entry["path"])
        documents = yamlio.load_all(text) if isinstance(text, str) else []
        if documents and isinstance(documents[0], dict):
            target = dict(entry.get("target") or {}) or _self_target(documents[0])
            found.append((target, documents[0]))
    return found


def _self_target(patch: dict[str, Any]) -> dict[str, Any]:
    """A patch without a target patches the object it names itself."""
    group, _, version = str(patch.get("apiVersion") or "").rpartition("/")
    metadata = patch.get("metadata") or {}
    return {key: value for key, value in (("kind", patch.get("kind")), ("group", group), ("version", version),
                                          ("name", metadata.get("name")))
            if value}


def matches(target: dict[str, Any], obj: dict[str, Any]) -> bool:
    """kustomize's selector: kind, group, version equal; name and namespace regular expressions matched whole."""
    group, _, version = str(obj.get("apiVersion") or "").rpartition("/")
    metadata = obj.get("metadata") or {}
    for key, found in (("kind", obj.get("kind")), ("group", group), ("version", version)):
        if target.get(key) and target[key] != found:
            return False
    for key, found in (("name", metadata.get("name")), ("namespace", metadata.get("namespace"))):
        if target.get(key) and not _whole(str(target[key]), str(found or "")):
            return False
    return True


def _whole(pattern: str, text: str) -> bool:
    try:
        return re.fullmatch(pattern, text) is not None
    except re.error:
        return pattern == text


def patched(obj: dict[str, Any], patches: tuple[Patch, ...] | list[Patch], rewrites: Any = ()) -> dict[str, Any]:
    """The object with every patch whose target it matches, then the `images` rewrites."""
    for target, patch in patches:
        if matches(target, obj):
            body = {k: v for k, v in patch.items() if k not in ("apiVersion", "kind", "metadata")}
            obj = merge.apply_literally(obj, body)
    if rewrites:
        obj = images.kustomize_rewritten(obj, rewrites)
    return obj
