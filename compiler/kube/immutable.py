"""The fields Kubernetes refuses to change on an object that exists (its update validation), as one table, and
the changes between two revisions of an object that touch them: what `easel diff` warns of before a merge.

Read from the API server's update validation (apps ValidateStatefulSetUpdate and the apps strategies' selector
checks, batch ValidateJobSpecUpdate, core ValidatePersistentVolumeClaimUpdate, ValidateServiceUpdate,
ValidateConfigMapUpdate and ValidateSecretUpdate, rbac's roleRef, storage's StorageClass). Both revisions are
manifests as written, not the live objects: a field the server fills in (a Service's cluster IP) is compared only
where the manifests set it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from compiler.kube.api import group_of, mapping
from compiler.model import quantity

_MISSING = object()


@dataclass(frozen=True)
class ImmutableChange:
    """A change to a field Kubernetes does not update in place: the whole update is refused."""
    path: str  # the field, dotted from the object's root: "spec.volumeClaimTemplates"
    before: Any = None  # its values, None where a revision leaves it out
    after: Any = None

    def leaves(self) -> list[tuple[str, Any, Any]]:
        """Where inside the field the revisions differ: (path below it, before, after) for each value that changes,
        "[0].spec.resources.requests.storage" inside spec.volumeClaimTemplates."""
        return list(_leaves(self.before, self.after, ""))


def _leaves(old: Any, new: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new), key=str):
            if old.get(key) != new.get(key) or (key in old) != (key in new):
                yield from _leaves(old.get(key), new.get(key), f"{path}.{key}")
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (one, other) in enumerate(zip(old, new, strict=True)):
            if one != other:
                yield from _leaves(one, other, f"{path}[{index}]")
    else:
        yield path, old, new


@dataclass(frozen=True)
class Rule:
    path: str  # dotted from the object's root; "[0]" reads a list's first item
    but: tuple[str, ...] = ()  # with but: each field under path but these is immutable, not path as a whole
    defaults: Mapping[str, Any] = field(default_factory=dict)  # with but: what the server sets a field left out to
    default: Any = _MISSING  # without but: what the server sets the field left out to
    shrinks_only: bool = False  # a quantity that may grow in place (a claim's storage) but never shrink
    kept_when_left_out: bool = False  # leaving the field out (or empty) keeps what the server holds: not a change
    when: Callable[[Mapping[str, Any], Mapping[str, Any]], bool] | None = None  # applies only when (before, after)

    def changes(self, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[ImmutableChange]:
        old, new = _at(before, self.path), _at(after, self.path)
        if self.but:
            olds, news = mapping(None if old is _MISSING else old), mapping(None if new is _MISSING else new)
            return [ImmutableChange(f"{self.path}.{key}", _value(olds.get(key, _MISSING)),
                                    _value(news.get(key, _MISSING)))
                    for key in sorted(set(olds) | set(news), key=str) if key not in self.but
                    and olds.get(key, self.defaults.get(key)) != news.get(key, self.defaults.get(key))]
        old = self.default if old is _MISSING else old
        new = self.default if new is _MISSING else new
        if old == new or (self.kept_when_left_out and new in (_MISSING, None, "")):
            return []
        if self.shrinks_only and not _shrinks(old, new):
            return []
        return [ImmutableChange(self.path, _value(old), _value(new))]


def _value(found: Any) -> Any:
    return None if found is _MISSING else found


def _at(obj: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path ("spec.clusterIPs[0]"), or _MISSING."""
    value: Any = obj
    for name, index in re.findall(r"([^.\[]+)(?:\[(\d+)\])?", path):
        value = value.get(name, _MISSING) if isinstance(value, Mapping) else _MISSING
        if index:
            value = value[int(index)] if isinstance(value, list) and len(value) > int(index) else _MISSING
    return value


def _shrinks(old: Any, new: Any) -> bool:
    """Whether a quantity is made smaller (or unreadable, or left out: the server would refuse those too)."""
    try:
        return quantity.parse(new) < quantity.parse(old)
    except (ValueError, TypeError):
        return old is not _MISSING


def _no_external_name(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """A Service turned into or from an ExternalName gives up or gets its cluster IP: that is no change of it."""
    return "ExternalName" not in (mapping(before.get("spec")).get("type"), mapping(after.get("spec")).get("type"))


def _made_immutable(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    return before.get("immutable") is True


def _bound_to_volume(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """A claim's volumeName may be set once, when it was empty."""
    return bool(mapping(before.get("spec")).get("volumeName"))


# What a StatefulSet takes in place; every other field of its spec is refused (newer Kubernetes also takes
# revisionHistoryLimit, older refuses it: warned of, as a cluster may be older)
STATEFULSET_UPDATABLE = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
                         "minReadySeconds")
_SELECTOR = (Rule("spec.selector"),)
_DATA_WHEN_IMMUTABLE = tuple(Rule(path, when=_made_immutable) for path in ("immutable", "data", "binaryData"))

# (API group, kind) -> the rules of its update validation
IMMUTABLE: dict[tuple[str, str], tuple[Rule, ...]] = {
    ("apps", "StatefulSet"): (Rule("spec", but=STATEFULSET_UPDATABLE,
                                   defaults={"podManagementPolicy": "OrderedReady", "revisionHistoryLimit": 10}),),
    ("apps", "Deployment"): _SELECTOR,
    ("apps", "DaemonSet"): _SELECTOR,
    ("apps", "ReplicaSet"): _SELECTOR,
    ("batch", "Job"): (*_SELECTOR, *(Rule(f"spec.{name}") for name in (
        "template", "completions", "completionMode", "podFailurePolicy", "backoffLimitPerIndex", "successPolicy",
        "managedBy"))),
    ("", "PersistentVolumeClaim"): (
        Rule("spec", but=("resources", "volumeAttributesClassName", "volumeName"),
             defaults={"volumeMode": "Filesystem"}),
        Rule("spec.resources", but=("requests",)),
        Rule("spec.resources.requests", but=("storage",)),
        Rule("spec.resources.requests.storage", shrinks_only=True),
        Rule("spec.volumeName", when=_bound_to_volume)),
    # a Service's family (spec.ipFamilies[0]) is immutable too, but the server picks it when left out: not compared
    ("", "Service"): tuple(Rule(path, kept_when_left_out=True, when=_no_external_name)
                           for path in ("spec.clusterIP", "spec.clusterIPs[0]")),
    ("", "ConfigMap"): _DATA_WHEN_IMMUTABLE,
    ("", "Secret"): (Rule("type", default="Opaque"), *_DATA_WHEN_IMMUTABLE, Rule("stringData", when=_made_immutable)),
    ("rbac.authorization.k8s.io", "RoleBinding"): (Rule("roleRef"),),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): (Rule("roleRef"),),
    ("storage.k8s.io", "StorageClass"): tuple(Rule(name) for name in (
        "provisioner", "parameters", "reclaimPolicy", "volumeBindingMode")),
}


def immutable_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[ImmutableChange]:
    """The changes from before to after (two revisions of one object: same kind, namespace and name) that the
    cluster refuses to make in place, by field path; none for a kind without immutable fields."""
    api_version, kind = after.get("apiVersion"), after.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str) or before.get("kind") != kind:
        return []
    found: list[ImmutableChange] = []
    for rule in IMMUTABLE.get((group_of(api_version), kind), ()):
        if rule.when is None or rule.when(before, after):
            found += rule.changes(before, after)
    return found
