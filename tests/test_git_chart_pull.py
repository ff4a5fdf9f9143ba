"""`easel charts pull` of a Git Repository's chart (README, "Charts from Git repositories"): the repository fetched
with libgit2 (here a local one, made with pygit2: git's `url.<file:// URL>.insteadOf` sends the Repository's https
address there, no network), the chart folder read at the commit its ref names and packed as `helm package` lays it
out, stored as `<charts.path>/<repository>/<folder name>@<ref>.tgz`,
its digest and the commit pinned in easel.lock (`charts`, `chartCommits`); compiling proves it like any pinned
chart, and the engines fetch that very commit. A branch that moves on keeps its pin until `--update`; a tag that
moved is refused; a folder that is no chart, a repository out of reach or one asking for credentials fail with
nothing written.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import k8s_schemas
import pygit2
import pytest
import yaml
from builders import docs, gpu_cluster
from conftest import SHARED, easel, tree, write_files

from compiler.load.charts import pack
from compiler.load.source import DirectorySource
from compiler.record import lockfile
from compiler.runtime import helm

URL = "https://git.acme.internal/ml/charts.git"
CHARTS = Path(__file__).resolve().parent / "helm_charts"
AUTHOR = pygit2.Signature("Easel Test", "test@example.com", 1_700_000_000, 0)
PATCHED = 'target: {kind: Deployment, name: ".*-engine"}, container: engine'
GPU = "[{type: gpu, properties: {count: 1, product: A}}]"
needs_helm = pytest.mark.skipif(not helm.available(), reason="helm-python-sdk (the `helm` extra) is not installed")


# --- a Git repository of charts, and a config repository that runs one ---------------------------------------------

def commit(repo: pygit2.Repository, message: str) -> str:
    """Everything in the work tree, committed on HEAD's branch; the commit's id."""
    repo.index.add_all()
    repo.index.write()
    parents = [] if repo.head_is_unborn else [repo.head.target]
    return str(repo.create_commit("HEAD", AUTHOR, AUTHOR, message, repo.index.write_tree(), parents))


def chart_repository(path: Path) -> pygit2.Repository:
    """A repository on branch main holding llm-serving in the folder charts/llm (Chart.yaml names it otherwise),
    tagged v1."""
    repo = pygit2.init_repository(str(path), initial_head="main")
    shutil.copytree(CHARTS / "llm-serving", path / "charts" / "llm")
    (path / "README.md").write_text("charts\n")
    first = commit(repo, "llm-serving 0.3.0")
    repo.references.create("refs/tags/v1", first)
    return repo


def change_chart(repo: pygit2.Repository, text: str) -> str:
    """A new commit on main that changes the chart (its values' default model)."""
    values = Path(repo.workdir) / "charts/llm/values.yaml"
    values.write_text(values.read_text().replace("facebook/opt-125m", text))
    return commit(repo, f"model {text}")


def config_repository(root: Path, url: str, *, engine: str = "flux", ref: str = "{branch: main}",
                      path: str = "charts/llm", properties: str = PATCHED, values: str = "{engine: {model: m}}",
                      traits: str = GPU, settings: str = "{}") -> Path:
    cluster = gpu_cluster("c")
    cluster["clusters/c.yaml"] = cluster["clusters/c.yaml"].replace("spec:\n", f"spec:\n  gitops: {{engine: {engine}}}\n")
    return write_files(root, {
        "easel.yaml": docs(f"kind: Settings\nspec: {settings}"),
        "environments/env.yaml": docs("kind: Project\nmetadata: {name: team}\nspec: {}",
                                      "kind: Environment\nmetadata: {name: dev}\nspec: {projects: [\"*\"]}"),
        "profiles/repos.yaml": docs(f"kind: Repository\nmetadata: {{name: ml-charts}}\n"
                                    f"spec: {{type: git, url: '{url}', ref: {ref}}}"),
        "profiles/app.yaml": docs(f"""
kind: WorkloadProfile
metadata: {{name: app}}
spec:
  version: 1.0.0
  components:
    - name: llm
      type: helm-chart
      properties: {{repository: ml-charts, path: {path}, {properties + ', ' if properties else ''}values: {values}}}
      traits: {traits}
"""),
        "workloads/w.yaml": docs("kind: Workload\nmetadata: {name: w}\n"
                                 "spec: {project: team, environment: dev, profile: {name: app}}"),
        **cluster,
    })


@pytest.fixture
def reach(tmp_path: Path) -> Iterator[Callable[[str], None]]:
    """reach(address): libgit2 fetches URL from address instead, as git's global config says (the test's own
    config, put back after it)."""
    home = tmp_path / "git-home"
    home.mkdir()
    level = pygit2.enums.ConfigLevel.GLOBAL
    before = pygit2.settings.search_path[level]
    pygit2.settings.search_path[level] = str(home)

    def instead(address: str) -> None:
        (home / ".gitconfig").write_text(f'[url "{address}"]\n\tinsteadOf = {URL}\n')

    try:
        yield instead
    finally:
        pygit2.settings.search_path[level] = before


@pytest.fixture
def source(tmp_path: Path, reach: Callable[[str], None]) -> pygit2.Repository:
    repo = chart_repository(tmp_path / "source")
    reach(Path(repo.workdir).resolve().as_uri())
    return repo


def lock(root: Path) -> dict:
    return yaml.safe_load((root / "easel.lock").read_text())


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def packed(repo: pygit2.Repository, folder: str = "charts/llm") -> bytes:
    """The chart folder as the work tree holds it, packed as easel packs a folder on disk."""
    return pack(DirectorySource(repo.workdir), folder)[1]


def objects(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def assert_valid(obj: dict) -> None:
    if (SHARED / "crds").is_dir():
        assert k8s_schemas.validate_custom(obj, SHARED / "crds") == []


def assert_nothing_written(root: Path) -> None:
    assert not (root / "charts").exists() and not (root / "easel.lock").exists()


# --- pulling, pinning, proving -----------------------------------------------------------------------------------

@needs_helm
def test_a_git_chart_is_pulled_at_its_branch_pinned_with_its_commit_and_proven(tmp_path, source):
    head = str(source.head.target)
    root = config_repository(tmp_path / "repo", URL)
    run = easel("-C", str(root), "charts", "pull")
    assert run.code == 0, run.text
    assert "W109" not in run.text
    stored = root / "charts/ml-charts/llm@main.tgz"  # by the folder's name and the ref: not Chart.yaml's name
    assert stored.read_bytes() == packed(source)  # the commit's folder, packed as easel packs one on disk
    pinned = lock(root)
    assert pinned["charts"] == {"ml-charts/llm main": digest(packed(source))}
    assert pinned["chartCommits"] == {"ml-charts/llm main": head}
    assert f"fetched  ml-charts/llm main  {digest(packed(source))[:19]}  (pinned, commit {head[:12]})" in run.out
    compiled = easel("-C", str(root), "compile")
    assert compiled.code == 0, compiled.text
    assert "W107" not in compiled.text  # proven by Helm's engine, offline, from the archive the lock pins
    assert lock(root)["chartCommits"] == {"ml-charts/llm main": head}  # compiling keeps the pins
    [git_source] = objects(root / "output/clusters/c/flux/sources/ml-charts.yaml")
    assert git_source["spec"]["ref"] == {"branch": "main", "commit": head}  # Flux clones main, checks out head
    assert git_source["spec"]["url"] == URL
    assert_valid(git_source)
    assert easel("-C", str(root), "charts", "pull").out.count("already there") == 1  # nothing fetched again


@needs_helm
def test_a_git_charts_gpus_are_proven_like_any_charts(tmp_path, source):
    root = config_repository(tmp_path / "repo", URL, values="{engine: {model: m, replicaCount: 2}}")
    assert easel("-C", str(root), "charts", "pull").code == 0
    compiled = easel("-C", str(root), "compile")
    assert compiled.code == 1 and "error[E810]" in compiled.err, compiled.text
    assert "easel booked 1 × 1" in compiled.err and "ask for 2" in compiled.err


@needs_helm
def test_argo_cd_syncs_the_pinned_commit(tmp_path, source):
    root = config_repository(tmp_path / "repo", URL, engine="argocd", properties="", traits="[]")
    assert easel("-C", str(root), "charts", "pull").code == 0
    compiled = easel("-C", str(root), "compile")
    assert compiled.code == 0 and "W107" not in compiled.text, compiled.text
    [app] = [o for p in (root / "output/clusters/c/apps").rglob("*.yaml") for o in objects(p)
             if o["kind"] == "Application" and "llm" in o["metadata"]["name"]]
    assert app["spec"]["source"]["targetRevision"] == str(source.head.target)
    assert app["spec"]["source"]["path"] == "charts/llm"
    assert_valid(app)


def test_a_ref_with_a_slash_is_kept_under_a_name_that_is_no_path(tmp_path, source):
    source.branches.local.create("feature/x", source.head.peel(pygit2.Commit))
    root = config_repository(tmp_path / "repo", URL, ref="{branch: feature/x}")
    run = easel("-C", str(root), "charts", "pull")
    assert run.code == 0, run.text
    assert [p.name for p in (root / "charts/ml-charts").iterdir()] == ["llm@feature%2Fx.tgz"]
    assert lock(root)["chartCommits"] == {"ml-charts/llm feature/x": str(source.head.target)}
    validated = easel("-C", str(root), "validate")
    assert validated.code == 0 and "E109" not in validated.text and "E110" not in validated.text, validated.text


# --- a ref that moves --------------------------------------------------------------------------------------------

def test_a_branch_that_moved_on_keeps_its_pin_until_update(tmp_path, source):
    first = str(source.head.target)
    root = config_repository(tmp_path / "repo", URL)
    assert easel("-C", str(root), "charts", "pull").code == 0
    before = tree(root / "charts"), (root / "easel.lock").read_text()
    second = change_chart(source, "another/model")
    kept = easel("-C", str(root), "charts", "pull")
    assert kept.code == 0 and "already there" in kept.out, kept.text
    assert (tree(root / "charts"), (root / "easel.lock").read_text()) == before
    (root / "charts/ml-charts/llm@main.tgz").unlink()  # a pinned archive missing: read again at the pinned commit
    again = easel("-C", str(root), "charts", "pull")
    assert again.code == 0, again.text
    assert f"branch main is at {second[:12]} now: `easel charts pull --update` moves the pin" in again.out
    assert (tree(root / "charts"), (root / "easel.lock").read_text()) == before
    updated = easel("-C", str(root), "charts", "pull", "--update")
    assert updated.code == 0, updated.text
    assert f"updated  ml-charts/llm main  commit {first[:12]} -> {second[:12]}" in updated.out
    assert "1 pin changed" in updated.out
    assert lock(root)["chartCommits"] == {"ml-charts/llm main": second}
    assert (root / "charts/ml-charts/llm@main.tgz").read_bytes() == packed(source)
    assert lock(root)["charts"] == {"ml-charts/llm main": digest(packed(source))}


def test_a_tag_that_moved_is_refused(tmp_path, source):
    root = config_repository(tmp_path / "repo", URL, ref="{tag: v1}")
    assert easel("-C", str(root), "charts", "pull").code == 0
    pinned = (root / "easel.lock").read_text()
    moved = change_chart(source, "another/model")
    source.references["refs/tags/v1"].set_target(moved)
    (root / "charts/ml-charts/llm@v1.tgz").unlink()  # (a chart there and pinned is not fetched: no network)
    run = easel("-C", str(root), "charts", "pull")
    assert run.code == 1 and "error[E110]" in run.err, run.text
    assert f"tag v1 now names commit {moved}" in run.err and "the tag was moved" in run.err
    assert not (root / "charts/ml-charts/llm@v1.tgz").exists() and (root / "easel.lock").read_text() == pinned
    updated = easel("-C", str(root), "charts", "pull", "--update")
    assert updated.code == 0 and lock(root)["chartCommits"] == {"ml-charts/llm v1": moved}, updated.text


def test_a_pinned_commit_the_branch_no_longer_holds_is_e909(tmp_path, source):
    root = config_repository(tmp_path / "repo", URL)
    assert easel("-C", str(root), "charts", "pull").code == 0
    pinned = (root / "easel.lock").read_text()
    rewritten = source.create_commit(None, AUTHOR, AUTHOR, "history rewritten", source.head.peel().tree.id, [])
    source.references["refs/heads/main"].set_target(rewritten)  # a force-push: the pinned commit is off the branch
    (root / "charts/ml-charts/llm@main.tgz").unlink()
    run = easel("-C", str(root), "charts", "pull")
    assert run.code == 1 and "error[E909]" in run.err and "is not on branch main any more" in run.err, run.text
    assert "--update" in run.err and (root / "easel.lock").read_text() == pinned
    assert easel("-C", str(root), "charts", "pull", "--update").code == 0
    assert lock(root)["chartCommits"] == {"ml-charts/llm main": str(rewritten)}


# --- failures: an error naming the chart and its repository, nothing written -------------------------------------

def test_two_folders_of_one_name_in_one_repository_are_e909(tmp_path, source):
    shutil.copytree(Path(source.workdir) / "charts/llm", Path(source.workdir) / "other/llm")
    commit(source, "a second chart folder named llm")
    root = config_repository(tmp_path / "repo", URL, properties="", traits="[]")
    profile = root / "profiles/app.yaml"
    profile.write_text(profile.read_text() + "    - {name: other, type: helm-chart, properties: {repository: "
                       "ml-charts, path: other/llm}}\n")
    run = easel("-C", str(root), "charts", "pull")
    assert run.code == 1 and "error[E909]" in run.err, run.text
    assert "the folders charts/llm and other/llm of Git repository ml-charts have one name" in run.err
    assert_nothing_written(root)


def test_a_folder_that_is_no_chart_is_e910_naming_it(tmp_path, source):
    root = config_repository(tmp_path / "repo", URL, path="charts/nope")
    run = easel("-C", str(root), "charts", "pull")
    assert run.code == 1 and "error[E910]" in run.err, run.text
    assert "'charts/nope' is not a chart folder" in run.err and "ml-charts/nope main" in run.err
    assert_nothing_written(root)


def test_a_repository_out_of_reach_is_e909(tmp_path, reach):
    reach((tmp_path / "nowhere").as_uri())
    root = config_repository(tmp_path / "repo", URL)
    run = easel("-C", str(root), "charts", "pull")
    assert run.code == 1 and "error[E909]" in run.err, run.text
    assert "Git repository ml-charts" in run.err and "nowhere" in run.err
    assert_nothing_written(root)


@contextlib.contextmanager
def asking_for_credentials() -> Iterator[str]:
    """An HTTP Git server on loopback that answers every request 401 (Basic): its URL."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/charts.git"
    finally:
        server.shutdown()
        server.server_close()


def test_a_repository_that_asks_for_credentials_is_e909_with_a_hint(tmp_path):
    with asking_for_credentials() as url:
        root = config_repository(tmp_path / "repo", url)
        run = easel("-C", str(root), "charts", "pull")
    assert run.code == 1 and "error[E909]" in run.err, run.text
    assert "asks for credentials" in run.err and "anonymously" in run.err
    assert_nothing_written(root)


def test_the_clone_lies_in_easels_cache_and_nothing_else_is_written(tmp_path, source):
    root = config_repository(tmp_path / "repo", URL)
    assert easel("-C", str(root), "charts", "pull").code == 0
    assert sorted(p.name for p in root.iterdir()) == [".easel-cache", "charts", "clusters", "easel.lock", "easel.yaml",
                                                      "environments", "profiles", "workloads"]
    [clone] = (root / ".easel-cache/git").iterdir()
    assert clone.name.startswith("ml-charts-") and pygit2.Repository(str(clone)).is_bare


def test_a_lock_keeps_commits_and_manifests_apart_and_an_older_lock_still_loads():
    text = ("apiVersion: easel.dev/v1alpha1\nkind: Lock\ncharts:\n  ml/llm main: sha256:" + "a" * 64 + "\n"
            "chartManifests:\n  oci/tools 1.0.0: sha256:" + "b" * 64 + "\nchartCommits:\n  ml/llm main: " + "c" * 40
            + "\n")
    decisions, problems = lockfile.parse(text)
    assert problems == [] and decisions.chart_manifests == {("ml", "llm", "main"): "c" * 40,
                                                            ("oci", "tools", "1.0.0"): "sha256:" + "b" * 64}
    dumped = yaml.safe_load(lockfile.dump(decisions))
    assert dumped["chartCommits"] == {"ml/llm main": "c" * 40}
    assert dumped["chartManifests"] == {"oci/tools 1.0.0": "sha256:" + "b" * 64}
    older, problems = lockfile.parse("apiVersion: easel.dev/v1alpha1\nkind: Lock\ncharts:\n  ml/llm 1.0.0: sha256:"
                                     + "a" * 64 + "\n")
    assert problems == [] and older.chart_manifests == {}
