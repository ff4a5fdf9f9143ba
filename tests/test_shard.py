"""`easel compile --shard I/N`: N jobs that each render a share of the clusters, and together the whole tree."""

from __future__ import annotations

import sys

from conftest import ROOT, easel, tree

from compiler.plan.shards import Shard

sys.path.insert(0, str(ROOT / "bench"))
import fleet


def test_the_shards_together_are_the_whole_tree(tmp_path):
    repo = tmp_path / "repo"
    fleet.write_easel_repo(fleet.fleet(14, 4, 3, True), repo)  # Flux and Argo CD clusters
    assert easel("compile", cwd=repo).code == 0
    whole = tree(repo / "output")
    parts = []
    for index in (1, 2, 3):
        run = easel("compile", "--shard", f"{index}/3", "--out", str(tmp_path / f"shard-{index}"), cwd=repo)
        assert run.code == 0, run.text
        assert f"(shard {index}/3:" in run.out
        parts.append(tree(tmp_path / f"shard-{index}"))
    assert all(parts)
    union = {path: data for part in parts for path, data in part.items()}
    assert sum(len(p) for p in parts) == len(union)  # no file in two shards
    assert union == whole
    assert "bootstrap/argocd/applicationset.yaml" in parts[0]  # what all share goes with shard 1


def test_a_shard_writes_only_its_own_clusters(tmp_path):
    repo = tmp_path / "repo"
    fleet.write_easel_repo(fleet.fleet(10, 3, 5, False), repo)
    assert easel("compile", cwd=repo).code == 0
    before = tree(repo / "output")
    gone = sorted((repo / "clusters").glob("*.yaml"))[0]
    gone.unlink()
    owner = next(i for i in (1, 2) if Shard(i, 2).owns_cluster(gone.stem))
    other = 3 - owner
    assert easel("compile", "--shard", f"{other}/2", cwd=repo).code == 0
    assert tree(repo / "output") == before  # the other shard leaves the removed cluster's files to its owner
    assert easel("compile", "--shard", f"{owner}/2", cwd=repo).code == 0
    after = tree(repo / "output")
    assert not any(gone.stem in path for path in after)
    assert easel("compile", "--check", cwd=repo).code == 0


def test_shard_assignment_is_stable_and_balanced():
    names = [f"c{i:05d}" for i in range(4000)]
    shards = [Shard(i, 4) for i in (1, 2, 3, 4)]
    counts = [sum(s.owns_cluster(n) for n in names) for s in shards]
    assert sum(counts) == len(names) and min(counts) > 900  # each name in exactly one, about a quarter each
    assert [s.owns_cluster("dc-east-1") for s in shards] == [s.owns_cluster("dc-east-1") for s in shards]
    assert Shard(1, 1).owns_path("bootstrap/argocd/applicationset.yaml")


def test_a_bad_shard_is_a_usage_error(tmp_path):
    repo = tmp_path / "repo"
    fleet.write_easel_repo(fleet.fleet(2, 1, 5, False), repo)
    for bad in ("0/3", "4/3", "x", "1/0"):
        run = easel("compile", "--shard", bad, cwd=repo)
        assert run.code == 2 and "is not a shard" in run.text, run.text
