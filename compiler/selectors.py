"""The one label-selector matcher (Kubernetes semantics), with the reason a selector does not match."""

from __future__ import annotations

from typing import Mapping

from .model import Requirement, Selector, Taint, Toleration


def mismatch(selector: Selector, labels: Mapping[str, str]) -> str | None:
    """None when labels match the selector; else the first reason they do not, in words."""
    for key, value in selector.match_labels:
        if labels.get(key) != value:
            have = f"is {labels[key]!r}" if key in labels else "is not set"
            return f"label {key} {have}, selector wants {value!r}"
    for requirement in selector.match_expressions:
        reason = _requirement_mismatch(requirement, labels)
        if reason:
            return reason
    return None


def matches(selector: Selector, labels: Mapping[str, str]) -> bool:
    return mismatch(selector, labels) is None


def _requirement_mismatch(req: Requirement, labels: Mapping[str, str]) -> str | None:
    present = req.key in labels
    value = labels.get(req.key)
    listed = "[" + ", ".join(req.values) + "]"
    if req.operator == "In" and value not in req.values:
        return f"label {req.key} " + (f"is {value!r}, not in {listed}" if present else f"is not set (wants one of {listed})")
    if req.operator == "NotIn" and present and value in req.values:
        return f"label {req.key} is {value!r}, which the selector excludes"
    if req.operator == "Exists" and not present:
        return f"label {req.key} is not set"
    if req.operator == "DoesNotExist" and present:
        return f"label {req.key} is set ({value!r}) and the selector wants it absent"
    return None


def tolerates(tolerations: tuple[Toleration, ...], taint: Taint) -> bool:
    """Open Cluster Management semantics: key, operator (Equal or Exists), value, effect (empty = every effect)."""
    for tol in tolerations:
        if tol.effect and tol.effect != taint.effect:
            continue
        if tol.operator == "Exists":
            if tol.key is None or tol.key == taint.key:
                return True
        elif tol.key == taint.key and (tol.value or "") == (taint.value or ""):
            return True
    return False
