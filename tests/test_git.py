"""Git-native workflow on temporary repositories built with pygit2: compile and validate at a revision,
`easel diff` between revisions, `easel publish` to a branch."""

from __future__ import annotations

import json
from pathlib import Path

import pygit2
import pytest
import yaml
from builders import cluster_file, copy_example
from conftest import copy_init_repo, easel, tree, write_files

ENV = {"GIT_AUTHOR_NAME": "Easel Test", "GIT_AUTHOR_EMAIL": "test@example.com",
       "GIT_COMMITTER_NAME": "Easel Test", "GIT_COMMITTER_EMAIL": "test@example.com"}
SIGNATURE = pygit2.Signature("Easel Test", "test@example.com", 1_700_000_000, 0)


def commit_all(repo: pygit2.Repository, message: str) -> str:
    repo.index.add_all()
    repo.index.write()
    tree_id = repo.index.write_tree()
    parents = [] if repo.head_is_unborn else [repo.head.target]
    return str(repo.create_commit("HEAD", SIGNATURE, SIGNATURE, message, tree_id, parents))


@pytest.fixture
def git_repo(repo: Path) -> tuple[Path, pygit2.Repository]:
    handle = pygit2.init_repository(str(repo), initial_head="main")
    assert easel("compile", cwd=repo).code == 0
    commit_all(handle, "a config repository")
    return repo, handle


def test_compile_at_a_ref_equals_compile_of_a_checkout(git_repo, tmp_path):
    repo, handle = git_repo
    first = commit_all(handle, "nothing new")  # the same tree again: a second commit to refer to
    workload = repo / "workloads/demo/hello.yaml"
    workload.write_text(workload.read_text().replace("hello, world", "uncommitted"))  # the working tree differs
    run = easel("compile", "--ref", first, "--out", str(tmp_path / "at-ref"), cwd=repo)
    assert run.code == 0, run.text
    checkout = tmp_path / "checkout"
    handle.checkout_tree(handle[first].peel(pygit2.Tree), directory=str(checkout),
                         strategy=pygit2.GIT_CHECKOUT_FORCE | pygit2.GIT_CHECKOUT_RECREATE_MISSING)
    assert easel("compile", "--out", str(tmp_path / "from-checkout"), cwd=checkout).code == 0
    assert tree(tmp_path / "at-ref") == tree(tmp_path / "from-checkout")
    assert b"uncommitted" not in b"".join(tree(tmp_path / "at-ref").values())
    assert (repo / "easel.lock").read_text() == (checkout / "easel.lock").read_text()  # --ref writes no lock


def test_validate_at_a_ref_names_files_and_lines(git_repo):
    repo, handle = git_repo
    workload = repo / "workloads/demo/hello.yaml"
    workload.write_text(workload.read_text().replace("environment: dev", "enviroment: dev"))
    broken = commit_all(handle, "a typo")
    workload.write_text(workload.read_text().replace("enviroment: dev", "environment: dev"))  # fixed, uncommitted
    assert easel("validate", cwd=repo).code == 0
    run = easel("validate", "--ref", broken, cwd=repo)
    assert run.code == 1 and "workloads/demo/hello.yaml:8:3: error[E203]: unknown field 'enviroment'" in run.err


def test_bad_refs_are_clear_errors(git_repo, tmp_path):
    repo, _ = git_repo
    for command in (("validate",), ("compile", "--check"), ("explain", "hello")):
        run = easel(*command, "--ref", "no-such-branch", cwd=repo)
        assert run.code == 1 and "error[E903]: no commit 'no-such-branch'" in run.err and "Traceback" not in run.text
    outside = tmp_path / "not-a-repository"
    outside.mkdir()
    run = easel("validate", "--ref", "HEAD", cwd=outside)
    assert run.code == 1 and "is not inside a git repository" in run.err


def test_diff_reports_a_workload_added_and_a_cluster_tainted(git_repo):
    repo, handle = git_repo
    write_files(repo, cluster_file("spare", "{tier: dev}"))
    assert easel("compile", cwd=repo).code == 0
    base = commit_all(handle, "a second cluster")
    write_files(repo, {"workloads/demo/extra.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: Workload
        metadata: {name: extra}
        spec: {project: demo, environment: dev, profile: {name: hello}}
    """, **cluster_file("spare", "{tier: dev}", spec="taints: [{key: drain, effect: NoSelect}]")})
    assert easel("compile", cwd=repo).code == 0
    report = json.loads(easel("diff", "--base", base, "--format", "json", cwd=repo).out)["clusters"]
    by_cluster = {d["cluster"]: d for d in report}
    assert set(by_cluster) == {"local", "spare"}
    assert by_cluster["local"]["arrived"] == ["demo/extra"]
    assert {(o["change"], o["kind"], o["name"]) for o in by_cluster["local"]["objects"]} >= {
        ("added", "Deployment", "demo-extra/extra-web"), ("added", "Namespace", "demo-extra")}
    assert by_cluster["spare"]["left"] == ["demo/hello"]
    assert all(o["change"] == "removed" for o in by_cluster["spare"]["objects"])
    names = easel("diff", "--base", base, "--name-only", cwd=repo).out.split()
    assert names == ["local", "spare"]
    assert easel("diff", "--base", base, "--name-only", cwd=repo).code == 0  # changes are not a failure
    assert easel("diff", "--base", base, "--name-only", "--exit-code", cwd=repo).code == 1  # unless asked
    markdown = easel("diff", "--base", base, "--format", "markdown", cwd=repo).out
    assert markdown.startswith("### easel diff")
    assert "| `local` | " in markdown and "<details><summary><code>spare</code>" in markdown


def test_diff_reports_a_version_bump(git_repo):
    repo, handle = git_repo
    source = (repo / "profiles/hello/1.0.0.yaml").read_text()
    (repo / "profiles/hello/1.1.0.yaml").write_text(source.replace("version: 1.0.0", "version: 1.1.0"))
    base = commit_all(handle, "publish 1.1.0")  # published, not yet used: the lock keeps 1.0.0
    assert easel("diff", "--base", base, "--name-only", cwd=repo).out.strip() == ""
    assert easel("diff", "--base", base, "--exit-code", cwd=repo).code == 0  # nothing changes
    assert easel("lock", "--update", cwd=repo).code == 0
    report = json.loads(easel("diff", "--base", base, "--format", "json", cwd=repo).out)["clusters"]
    assert report[0]["versions"] == [{"workload": "demo/hello", "from": "1.0.0", "to": "1.1.0"}]
    assert any("easel.dev/profile-version: 1.1.0" in o["diff"] for o in report[0]["objects"])


def test_publish_commits_output_to_a_branch_once(git_repo):
    repo, handle = git_repo
    run = easel("publish", "--branch", "rendered", cwd=repo, env=ENV)
    assert run.code == 0 and "published" in run.out, run.text
    tip = handle.references["refs/heads/rendered"].peel(pygit2.Commit)
    assert tip.author.name == "Easel Test"
    assert tip.tree["output"]["clusters"]["local"]["kustomization.yaml"].type_str == "blob"
    again = easel("publish", "--branch", "rendered", cwd=repo, env=ENV)
    assert again.code == 0 and "nothing to commit" in again.out
    assert handle.references["refs/heads/rendered"].peel(pygit2.Commit).id == tip.id
    workload = repo / "workloads/demo/hello.yaml"
    workload.write_text(workload.read_text().replace("hello, world", "hello, again"))
    stale = easel("publish", "--branch", "rendered", cwd=repo, env=ENV)
    assert stale.code == 1 and "run `easel compile` first" in stale.err
    assert easel("compile", cwd=repo).code == 0
    run = easel("publish", "--branch", "rendered", "--message", "second", cwd=repo, env=ENV)
    second = handle.references["refs/heads/rendered"].peel(pygit2.Commit)
    assert run.code == 0 and second.parents[0].id == tip.id and second.message == "second"
    current = easel("publish", "--branch", "main", cwd=repo, env=ENV)
    assert current.code == 1 and "checked out here" in current.err


def test_markdown_is_cut_at_the_size_cap_with_a_note():
    from compiler.reports.diff import ClusterDiff, ObjectChange, as_markdown

    diffs = [ClusterDiff(f"c{i}", objects=[ObjectChange("changed", "HelmRelease", f"ns/r{i}", "-a\n+b\n" * 200)])
             for i in range(10)]
    text = as_markdown(diffs, "base", "head", limit=5_000)
    assert len(text) < 6_000
    assert "| `c9` |" in text  # the summary table lists every cluster
    assert "cluster section(s) left out to stay under 5,000 characters" in text


def test_a_config_repository_in_a_subfolder_reads_and_publishes_only_its_folder(tmp_path):
    monorepo = tmp_path / "mono"
    config = copy_init_repo(monorepo / "platform")
    write_files(monorepo, {"services/api/workloads/stray.yaml": "not: [an easel file\n"})  # outside the config
    handle = pygit2.init_repository(str(monorepo), initial_head="main")
    assert easel("compile", cwd=config).code == 0
    first = commit_all(handle, "a monorepo")
    run = easel("compile", "--ref", first, "--out", str(tmp_path / "at-ref"), cwd=config)
    assert run.code == 0, run.text
    assert tree(tmp_path / "at-ref") == tree(config / "output")
    published = easel("publish", "--branch", "rendered", cwd=config, env=ENV)
    assert published.code == 0, published.text
    rendered = handle.revparse_single("rendered").peel(pygit2.Tree)
    assert [entry.name for entry in rendered] == ["platform"]
    assert {entry.name for entry in rendered["platform/output"]} == {p.name for p in (config / "output").iterdir()}


def test_diff_after_changing_gpus_shows_the_new_limits_on_every_cluster_it_runs_on(tmp_path):
    repo = copy_example(tmp_path / "example", output=True)
    handle = pygit2.init_repository(str(repo), initial_head="main")
    base = commit_all(handle, "the example")
    runs_on = set(yaml.safe_load((repo / "easel.lock").read_text())["placements"]["nlp/support-bot"])
    workload = repo / "workloads/nlp/support-bot.yaml"
    workload.write_text(workload.read_text().replace("gpus: 2", "gpus: 1"))
    assert easel("compile", cwd=repo).code == 0
    assert set(yaml.safe_load((repo / "easel.lock").read_text())["placements"]["nlp/support-bot"]) == runs_on
    report = {d["cluster"]: d for d in json.loads(easel("diff", "--base", base, "--format", "json", cwd=repo).out)["clusters"]}
    assert runs_on and set(report) == runs_on
    for cluster in runs_on:
        changed = [line[:1] + line[1:].strip() for o in report[cluster]["objects"] if o["change"] == "changed"
                   for line in o["diff"].splitlines()]
        assert "-nvidia.com/gpu: 2" in changed and "+nvidia.com/gpu: 1" in changed, (cluster, changed)
