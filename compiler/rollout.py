"""Progressive rollouts: which clusters of a workload run the new version at each wave.

Waves are cumulative: wave k covers the clusters of waves 1..k. A wave is a label selector over the
workload's clusters, or a share of them (`percent`), picked by a hash of workload and cluster name, so the
same clusters are picked every time and a cluster added later does not reshuffle the others.
"""

from __future__ import annotations

import hashlib
import math
from typing import Mapping

from . import selectors
from .model import Wave


def _rank(workload: str, cluster: str) -> str:
    return hashlib.sha256(f"{workload}/{cluster}".encode()).hexdigest()


def wave_clusters(workload: str, clusters: list[str], waves: tuple[Wave, ...], labels: Mapping[str, Mapping[str, str]],
                  upto: int) -> list[list[str]]:
    """For waves 1..upto, the clusters each wave adds (sorted), out of the workload's clusters."""
    reached: set[str] = set()
    added: list[list[str]] = []
    ranked = sorted(clusters, key=lambda c: _rank(workload, c))
    for wave in waves[:upto]:
        if wave.selector is not None:
            members = {c for c in clusters if selectors.matches(wave.selector, labels[c])}
        else:
            members = set(ranked[:math.ceil(len(clusters) * (wave.percent or 100) / 100)])
        added.append(sorted(members - reached))
        reached |= members
    return added


def on_new_version(workload: str, clusters: list[str], waves: tuple[Wave, ...],
                   labels: Mapping[str, Mapping[str, str]], wave: int) -> set[str]:
    """The clusters that run the rollout's new version at this wave."""
    return {c for step in wave_clusters(workload, clusters, waves, labels, wave) for c in step}
