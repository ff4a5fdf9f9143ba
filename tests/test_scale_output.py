"""What easel prints stays short on a large fleet: counts and the first and last names, with `--all` (or
`--format json`) for every cluster."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import ROOT, easel

sys.path.insert(0, str(ROOT / "bench"))
import fleet

CLUSTERS = 60


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    repo = tmp_path_factory.mktemp("fleet") / "repo"
    fleet.write_easel_repo(fleet.fleet(CLUSTERS, 4, 11, True), repo)
    first = easel("compile", cwd=repo)
    assert first.code == 0, first.text
    return repo, first


def test_a_placement_is_counted_with_its_first_and_last_cluster(big):
    repo, first = big
    names = sorted(p.stem for p in (repo / "clusters").glob("*.yaml"))
    placed = [line for line in first.out.splitlines() if line.startswith("placed ")]
    assert placed and all(f"on {CLUSTERS} clusters ({names[0]} … {names[-1]}); details: easel explain" in line
                          for line in placed), first.out
    assert len(first.text) < 2_500  # with the generated fleet's two warnings (W107, W111), each said once


@pytest.mark.parametrize("command", [("compile",), ("validate",), ("status",), ("rollout", "status")])
def test_every_command_stays_short(big, command):
    repo, _ = big
    run = easel(*command, cwd=repo)
    assert run.code == 0, run.text
    assert len(run.text) < 10_000
    assert sum(name in run.text for name in (p.stem for p in (repo / "clusters").glob("*.yaml"))) <= 5


def test_explain_counts_the_rest_and_lists_them_all_when_asked(big):
    repo, _ = big
    workload = next(iter(sorted((repo / "workloads").rglob("*.yaml"))))
    name = f"{workload.parent.name}/{workload.stem}"
    short = easel("explain", name, cwd=repo)
    assert short.code == 0 and len(short.text) < 10_000
    assert f"… and {CLUSTERS - 20} more clusters: {CLUSTERS - 20} chosen" in short.out
    full = easel("explain", "--all", name, cwd=repo)
    assert all(p.stem in full.out for p in (repo / "clusters").glob("*.yaml"))
    data = json.loads(easel("explain", name, "--format", "json", cwd=repo).out)
    assert len(data["placement"]["clusters"]) == CLUSTERS


def test_status_sums_up_per_product_and_lists_every_cluster_when_asked(big):
    repo, _ = big
    short = easel("status", cwd=repo)
    assert "GPUs per product" in short.out and f"{CLUSTERS} clusters: `easel status --all`" in short.out
    full = easel("status", "--all", cwd=repo)
    assert "GPUs per cluster" in full.out
    assert all(p.stem in full.out for p in (repo / "clusters").glob("*.yaml"))
