"""The one label-selector matcher (Kubernetes semantics), with the requirement a selector does not meet."""

from __future__ import annotations

from collections.abc import Mapping

from compiler.model import Requirement, Selector, Taint, Toleration
from compiler.model.reasons import LabelMismatch


def mismatch(selector: Selector, labels: Mapping[str, str]) -> LabelMismatch | None:
    """None when labels match the selector; else the first requirement they do not meet."""
    for key, value in selector.match_labels:
        if labels.get(key) != value:
            return LabelMismatch(key, "Equals", labels.get(key), (value,))
    for requirement in selector.match_expressions:
        if not _meets(requirement, labels):
            return LabelMismatch(requirement.key, requirement.operator, labels.get(requirement.key),
                                 requirement.values)
    return None


def matches(selector: Selector, labels: Mapping[str, str]) -> bool:
    return mismatch(selector, labels) is None


def _meets(req: Requirement, labels: Mapping[str, str]) -> bool:
    present = req.key in labels
    if req.operator == "In":
        return labels.get(req.key) in req.values
    if req.operator == "NotIn":
        return not (present and labels[req.key] in req.values)
    if req.operator == "Exists":
        return present
    return not present  # DoesNotExist


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
