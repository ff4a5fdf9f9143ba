"""Why a cluster was passed over, or why a workload left one: structured values (the kind of reason, the
cluster's numbers, who holds what), made into prose only when printed (`str(reason)`).

Placement keeps one per cluster it did not choose; `explain`, the compile's report of moves and the error for a
workload that cannot be placed all print them.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from compiler.model.quantity import format_gi


class Reason:
    """A reason; subclasses are frozen dataclasses whose `__str__` says it in words."""

    kind = "reason"

    def __bool__(self) -> bool:
        return True


# --- labels and taints ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabelMismatch(Reason):
    """The first requirement of a label selector the labels do not meet. operator: Equals (matchLabels), In,
    NotIn, Exists or DoesNotExist."""
    key: str
    operator: str
    actual: str | None  # the label's value; None when it is not set
    wanted: tuple[str, ...]
    kind = "label"

    def __str__(self) -> str:
        listed = "[" + ", ".join(self.wanted) + "]"
        if self.operator == "Equals":
            have = f"is {self.actual!r}" if self.actual is not None else "is not set"
            return f"label {self.key} {have}, selector wants {self.wanted[0]!r}"
        if self.operator == "In":
            return f"label {self.key} " + (f"is {self.actual!r}, not in {listed}" if self.actual is not None
                                           else f"is not set (wants one of {listed})")
        if self.operator == "NotIn":
            return f"label {self.key} is {self.actual!r}, which the selector excludes"
        if self.operator == "Exists":
            return f"label {self.key} is not set"
        return f"label {self.key} is set ({self.actual!r}) and the selector wants it absent"


@dataclass(frozen=True)
class NotSelected(Reason):
    mismatch: LabelMismatch
    kind = "not-selected"

    def __str__(self) -> str:
        return f"not selected: {self.mismatch}"


@dataclass(frozen=True)
class TaintNotTolerated(Reason):
    key: str
    value: str | None
    effect: str
    environment: str
    kind = "taint"

    def __str__(self) -> str:
        value = f"={self.value}" if self.value else ""
        return f"taint {self.key}{value}:{self.effect} is not tolerated by environment {self.environment!r}"


# --- what the profile requires -------------------------------------------------------------------------------

@dataclass(frozen=True)
class KubernetesUnknown(Reason):
    wanted: str
    kind = "kubernetes"

    def __str__(self) -> str:
        return f"Kubernetes version unknown; the profile requires {self.wanted}"


@dataclass(frozen=True)
class KubernetesMismatch(Reason):
    version: str
    wanted: str
    kind = "kubernetes"

    def __str__(self) -> str:
        return f"Kubernetes {self.version} does not satisfy {self.wanted}"


@dataclass(frozen=True)
class NoArchDevices(Reason):
    arch: str
    kind = "arch"

    def __str__(self) -> str:
        return f"no ready {self.arch} devices; the profile requires {self.arch}"


@dataclass(frozen=True)
class StackUnavailable(Reason):
    """A stack the profile requires (`requires.profiles`) cannot be had there: the cluster profile provides it
    out of range, or no published version fits."""
    stack: str
    wanted: str  # the range asked for
    provided: str | None  # the version the cluster's ClusterProfile provides; None: easel would deploy it
    kind = "stack"

    def __str__(self) -> str:
        if self.provided is not None:
            return (f"its cluster profile provides {self.stack} {self.provided}; the profile requires "
                    f"{self.stack} {self.wanted!r}")
        return f"no published version of {self.stack} satisfies {self.wanted!r} (with what it requires)"


# --- GPUs (see gpu.py) ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NoGpus(Reason):
    products: tuple[str, ...]  # () = any product
    mode: str  # the pool mode asked for (gpu.EXCLUSIVE, ...)
    under_dra: bool = False  # time-slicing asked of a cluster that allocates GPUs through DRA
    kind = "gpu"

    def __str__(self) -> str:
        wanted = " or ".join(self.products) + " GPUs" if self.products else "GPUs"
        unit = "" if self.mode == "exclusive" else f" ({self.mode})"
        if self.under_dra:
            return (f"no {wanted}{unit}: the cluster allocates GPUs through DRA, whose claims get whole GPUs or MIG "
                    "instances")
        return f"no {wanted}{unit} on ready devices"


@dataclass(frozen=True)
class PoolNotOnArch(Reason):
    pool: str  # a GPU pool key
    arch: str
    kind = "gpu"

    def __str__(self) -> str:
        return f"no {self.pool} on ready {self.arch} devices"


@dataclass(frozen=True)
class PoolMemoryShort(Reason):
    pool: str
    memory: Fraction | None  # bytes per GPU; None: unknown
    needs: Fraction
    kind = "gpu"

    def __str__(self) -> str:
        have = "unknown memory" if self.memory is None else f"{format_gi(self.memory)}Gi"
        return f"{self.pool} has {have} per GPU; needs at least {format_gi(self.needs)}Gi"


@dataclass(frozen=True)
class DeviceTooSmall(Reason):
    pool: str
    count: int  # GPUs one replica needs
    largest: int  # most of the pool's GPUs on one ready device
    kind = "gpu"

    def __str__(self) -> str:
        return (f"a replica needs {self.count} × {self.pool} on one device; the largest ready device has "
                f"{self.largest}")


@dataclass(frozen=True)
class NotEnoughFree(Reason):
    pool: str
    needs: int
    total: int  # on ready devices
    allocated: int  # to earlier placements
    holders: tuple[str, ...]  # the workloads holding them
    pending: int = 0  # taken by this workload's other components
    kind = "capacity"

    def __str__(self) -> str:
        text = f"needs {self.needs} × {self.pool}; {self.total} on ready devices, {self.allocated} allocated"
        if self.holders:
            text += " to " + ", ".join(self.holders)
        if self.pending:
            text += f", {self.pending} to this workload's other components"
        return text


@dataclass(frozen=True)
class NoDeviceFits(Reason):
    """Enough GPUs are free in the pool, but not on one device for each pod: a pod gets all its GPUs on one
    node."""
    pool: str
    per_pod: int
    pods: int
    free: tuple[tuple[str, int], ...]  # device -> GPUs free on it (of those whose nodes the pods select)
    selects: str = ""  # the node labels the pods select, where they narrow the devices
    kind = "capacity"

    def __str__(self) -> str:
        on = ", ".join(f"{n} on {d!r}" for d, n in self.free[:5]) or "none"
        where = f" whose node has {self.selects}" if self.selects else ""
        return (f"needs {self.pods} pods × {self.per_pod} × {self.pool}, each pod's on one device{where}; "
                f"free: {on}{', …' if len(self.free) > 5 else ''}")


# --- choosing among eligible clusters, and keeping what easel.lock recorded ------------------------------------

@dataclass(frozen=True)
class ClusterGone(Reason):
    kind = "gone"

    def __str__(self) -> str:
        return "the cluster is gone from the inventory"


@dataclass(frozen=True)
class FewerClustersWanted(Reason):
    wanted: int
    kind = "number-of-clusters"

    def __str__(self) -> str:
        return f"numberOfClusters is now {self.wanted}"


@dataclass(frozen=True)
class PassedOver(Reason):
    """Eligible, but others were chosen: by score (wanted clusters), or by spreading over a label."""
    wanted: int | None
    spread_by: str | None
    kind = "passed"

    def __str__(self) -> str:
        if self.spread_by:
            return f"eligible, but spreading over {self.spread_by} chose others"
        return f"eligible, but {self.wanted} cluster(s) with a higher score were chosen"


@dataclass(frozen=True)
class TooFewEligible(Reason):
    eligible: int
    wanted: int
    kind = "too-few"

    def __str__(self) -> str:
        return f"eligible, but only {self.eligible} of the {self.wanted} clusters asked for are"


@dataclass(frozen=True)
class QuotaExhausted(Reason):
    project: str
    kind = "quota"

    def __str__(self) -> str:
        return f"eligible, but project {self.project!r} has no GPU quota left for it"
