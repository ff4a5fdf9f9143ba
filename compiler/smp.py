"""A small strategic merge patch, enough for the patches traits write, applied to easel's own objects.

Patches on charts and kustomize folders are applied by kustomize itself (Flux post-renderers, Argo CD); this is
its counterpart for objects easel renders. Lists merge by the keys Kubernetes declares for them; tolerations
are added to (a trait adds one, it does not remove the others); every other list is replaced.
"""

from __future__ import annotations

import copy
from typing import Any

from .rendered import ALL_CONTAINERS

MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name",
    "env": "name", "imagePullSecrets": "name", "volumeMounts": "mountPath", "ports": None,
    "volumeClaimTemplates": None,
}
_APPEND_LISTS = ("tolerations",)


def merge(base: Any, patch: Any, wildcard: bool = True) -> Any:
    """base with patch applied; neither argument is changed.

    With wildcard, a list item named "*" applies to every item of the base list (patching an object); without,
    "*" is an ordinary name (combining two patches into one).
    """
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if key in out:
                out[key] = _merge_field(key, out[key], value, wildcard)
            else:
                out[key] = copy.deepcopy(value)
        return out
    return copy.deepcopy(patch)


def _merge_field(key: str, base: Any, patch: Any, wildcard: bool) -> Any:
    if isinstance(base, list) and isinstance(patch, list):
        if key in _APPEND_LISTS:
            return base + [copy.deepcopy(item) for item in patch if item not in base]
        merge_key = MERGE_KEYS.get(key)
        if merge_key:
            return _merge_list(base, patch, merge_key, wildcard)
        return copy.deepcopy(patch)
    return merge(base, patch, wildcard)


def _merge_list(base: list, patch: list, merge_key: str, wildcard_on: bool) -> list:
    out = [dict(item) if isinstance(item, dict) else item for item in base]
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            out.append(copy.deepcopy(item))
            continue
        wildcard = wildcard_on and item[merge_key] == ALL_CONTAINERS
        matched = False
        for index, existing in enumerate(out):
            if isinstance(existing, dict) and (wildcard or existing.get(merge_key) == item[merge_key]):
                body = {k: v for k, v in item.items() if k != merge_key} if wildcard else item
                out[index] = merge(existing, body, wildcard_on)
                matched = True
        if not matched and not wildcard:
            out.append(copy.deepcopy(item))
    return out
