"""Rollout waves as shares of the placed clusters: cumulative, rounded up, the earlier waves counted toward
them (unit and property tests of decide/rollout.wave_clusters)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.decide.rollout import wave_clusters
from compiler.model import Selector, Wave

CANARY = Wave("canary", Selector(match_labels=(("canary", "true"),)), None)


def _waves(*percents: int, canary: bool = True) -> tuple[Wave, ...]:
    return ((CANARY,) if canary else ()) + tuple(Wave(f"w{p}", None, p) for p in percents)


def test_a_half_wave_after_a_canary_of_two_clusters_adds_nothing():
    # the finding: the 50 % wave picked the other cluster, so both ran the new version after wave two
    labels = {"a": {"canary": "true"}, "b": {}}
    for workload in ("nlp/one", "nlp/two", "vision/three", "research/four"):
        waves = wave_clusters(workload, ["a", "b"], _waves(50, 100), labels)
        assert [w.clusters for w in waves] == [("a",), (), ("b",)], workload


@settings(max_examples=300, deadline=None)
@given(size=st.integers(1, 40), canaries=st.sets(st.integers(0, 39)),
       percents=st.lists(st.integers(1, 100), min_size=1, max_size=4), workload=st.text(min_size=1, max_size=8))
def test_each_wave_reaches_its_share_of_the_placed_clusters_counting_the_earlier_ones(size, canaries, percents,
                                                                                     workload):
    clusters = [f"c{i:02}" for i in range(size)]
    labels = {c: ({"canary": "true"} if i in canaries else {}) for i, c in enumerate(clusters)}
    percents = sorted(percents)
    waves = wave_clusters(workload, clusters, _waves(*percents), labels)
    reached: set[str] = set()
    for wave, spec in zip(waves, _waves(*percents)):
        assert not reached & set(wave.clusters), "a cluster is in two waves"
        assert list(wave.clusters) == sorted(wave.clusters)
        reached |= set(wave.clusters)
        if spec.percent is not None:  # after a share wave: exactly that share (rounded up), or what was more
            share = math.ceil(size * spec.percent / 100)
            assert len(reached) == max(share, len(reached - set(wave.clusters)))
        else:
            assert set(wave.clusters) == {c for c in clusters if labels[c]} - (reached - set(wave.clusters))
    if percents[-1] == 100:
        assert reached == set(clusters)
