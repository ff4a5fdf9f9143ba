"""`easel charts pull [--update]` (SPEC §6, §7): every chart version a profile names, fetched from an HTTP Helm
repository or an OCI registry (served on loopback: tests/helm_servers.py), stored at
`<charts.path>/<repository>/<chart>-<version>.tgz` and pinned in easel.lock; fetched again only when missing,
changed or asked (--update); every failure an error that names the chart and its repository, with nothing written.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest
import yaml
from builders import cluster_file, docs
from conftest import easel, tree, write_files
from helm_servers import chart_manifest, free_port, http_helm_repository, oci_registry, pack_folder, push_chart

from compiler.commands.chart_pull import transport
from compiler.load.source import DirectorySource
from compiler.pipeline import Request, compile_repository
from compiler.record import lockfile

CHARTS = Path(__file__).resolve().parent / "helm_charts"
LLM = ("local", "llm-serving", "0.3.0")
BATCH = ("registry", "batch-tools", "1.2.0")


@functools.cache
def archive(folder: str) -> bytes:
    return pack_folder(CHARTS / folder)[2]


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def config_repository(root: Path, repositories: dict[str, str], charts: list[tuple[str, str, str]],
                      settings: str = "") -> Path:
    """A repository whose profile `serving` runs these charts (a workload runs it on cluster c); repositories:
    name -> `{type: ..., url: ...}`."""
    components = "\n".join(f"    - {{name: c{i}, type: helm-chart, properties: {{repository: {r}, chart: {c}, "
                           f"version: {v}}}}}" for i, (r, c, v) in enumerate(charts)) or (
        "    - {name: settings, type: manifests, properties: {objects: [{apiVersion: v1, kind: ConfigMap, "
        "metadata: {name: settings}}]}}")
    return write_files(root, {
        "easel.yaml": docs(f"kind: Settings\nspec: {{{settings}}}"),
        "profiles/repositories.yaml": docs(*(f"kind: Repository\nmetadata: {{name: {name}}}\nspec: {spec}"
                                             for name, spec in repositories.items())),
        "profiles/serving.yaml": docs(f"kind: WorkloadProfile\nmetadata: {{name: serving}}\nspec:\n  version: 1.0.0\n"
                                      f"  type: Application\n  components:\n{components}"),
        "environments/dev.yaml": docs("kind: Project\nmetadata: {name: team}\nspec: {}",
                                      "kind: Environment\nmetadata: {name: dev}\nspec: {projects: [team]}"),
        **cluster_file("c"),
        "workloads/chat.yaml": docs("kind: Workload\nmetadata: {name: chat}\n"
                                    "spec: {project: team, environment: dev, profile: {name: serving, version: '1.0.0'}}"),
    })


def helm_repository(root: Path, url: str, charts: tuple[tuple[str, str, str], ...] = (LLM,),
                    settings: str = "") -> Path:
    return config_repository(root, {"local": f"{{type: helm, url: '{url}'}}"}, list(charts), settings)


def pins(root: Path) -> dict[tuple[str, str, str], str]:
    decisions, problems = lockfile.parse((root / "easel.lock").read_text())
    assert problems == []
    return dict(decisions.charts)


def error_codes(text: str) -> list[str]:
    return re.findall(r"error\[(E\d+)\]", text)


# --- fetching and pinning ----------------------------------------------------------------------------------------

def test_pull_stores_each_archive_where_compiling_reads_it_and_pins_it(tmp_path):
    with http_helm_repository(tmp_path / "served", {"llm": archive("llm-serving")}) as url:
        root = helm_repository(tmp_path / "repo", url)
        run = easel("-C", str(root), "charts", "pull")
    assert run.code == 0, run.text
    stored = root / "charts" / "local" / "llm-serving-0.3.0.tgz"
    assert stored.read_bytes() == archive("llm-serving")
    assert pins(root) == {LLM: digest(archive("llm-serving"))}
    assert f"fetched  local/llm-serving 0.3.0  {digest(archive('llm-serving'))[:19]}  (pinned)" in run.out
    assert "fetched 1, already pinned 0" in run.out


def test_a_second_pull_fetches_nothing_and_compiling_needs_no_network(tmp_path):
    with http_helm_repository(tmp_path / "served", {"llm": archive("llm-serving")}) as url:
        root = helm_repository(tmp_path / "repo", url)
        assert easel("-C", str(root), "charts", "pull").code == 0
    before = tree(root / "charts"), (root / "easel.lock").read_text()
    again = easel("-C", str(root), "charts", "pull")  # the server is gone
    assert again.code == 0, again.text
    assert "pinned   local/llm-serving 0.3.0" in again.out and "fetched 0, already pinned 1" in again.out
    assert (tree(root / "charts"), (root / "easel.lock").read_text()) == before
    validated = easel("-C", str(root), "validate")
    assert validated.code == 0 and not {"E109", "E110"} & set(re.findall(r"\[(E\d+)\]", validated.text)), \
        validated.text
    assert "W107" not in validated.text  # the chart is proven, offline, from the archive the lock pins
    result = compile_repository(DirectorySource(root), Request(last_stage="decide"))
    assert {key: found.digest for key, found in result.require_model().charts.items()} == pins(root)
    assert easel("-C", str(root), "compile").code == 0
    assert pins(root) == {LLM: digest(archive("llm-serving"))}  # compiling keeps the pins
    assert easel("-C", str(root), "compile", "--locked").code == 0


def test_pull_from_an_oci_registry(tmp_path):
    with oci_registry(tmp_path) as registry:
        manifest = push_chart(registry, "team/charts", "batch-tools", "1.2.0", archive("batch-tools"))
        root = config_repository(tmp_path / "repo", {"registry": f"{{type: oci, url: 'oci://{registry}/team/charts'}}"},
                                 [BATCH])
        run = easel("-C", str(root), "charts", "pull")
    assert run.code == 0, run.text
    assert (root / "charts" / "registry" / "batch-tools-1.2.0.tgz").read_bytes() == archive("batch-tools")
    assert pins(root) == {BATCH: digest(archive("batch-tools"))}
    # the manifest it was pulled by is pinned too, and Flux pulls the chart by that digest, not by its tag
    decisions, _ = lockfile.parse((root / "easel.lock").read_text())
    assert dict(decisions.chart_manifests) == {BATCH: manifest}
    assert easel("-C", str(root), "compile").code == 0
    [source] = [yaml.safe_load(p.read_text()) for p in (root / "output/clusters/c/flux/sources").glob("*.yaml")]
    assert source["kind"] == "OCIRepository" and source["spec"]["ref"] == {"digest": manifest}


def test_a_missing_pinned_archive_is_fetched_again_as_the_pinned_bytes(tmp_path):
    with http_helm_repository(tmp_path / "served", {"llm": archive("llm-serving")}) as url:
        root = helm_repository(tmp_path / "repo", url)
        assert easel("-C", str(root), "charts", "pull").code == 0
        (root / "charts" / "local" / "llm-serving-0.3.0.tgz").unlink()
        run = easel("-C", str(root), "charts", "pull")
    assert run.code == 0, run.text
    assert "(the pinned archive was missing or damaged)" in run.out
    assert (root / "charts" / "local" / "llm-serving-0.3.0.tgz").read_bytes() == archive("llm-serving")


def changed_llm_serving(tmp_path: Path) -> bytes:
    """llm-serving 0.3.0 with other bytes: what a publisher that re-published a version serves."""
    folder = tmp_path / "changed" / "llm-serving"
    shutil.copytree(CHARTS / "llm-serving", folder)
    with (folder / "values.yaml").open("a") as values:
        values.write("# re-published\n")
    return pack_folder(folder)[2]


def test_a_pinned_chart_the_repository_changed_is_an_error_until_update_pins_it(tmp_path):
    with http_helm_repository(tmp_path / "first", {"llm": archive("llm-serving")}) as url:
        root = helm_repository(tmp_path / "repo", url)
        assert easel("-C", str(root), "charts", "pull").code == 0
    changed = changed_llm_serving(tmp_path)
    (root / "charts" / "local" / "llm-serving-0.3.0.tgz").unlink()
    lock = (root / "easel.lock").read_text()
    with http_helm_repository(tmp_path / "second", {"llm": changed}) as url:
        helm_repository(root, url)
        refused = easel("-C", str(root), "charts", "pull")
        assert refused.code == 1 and error_codes(refused.err) == ["E110"], refused.text
        assert "local/llm-serving 0.3.0" in refused.err and digest(changed) in refused.err
        assert "nothing was written" in refused.err and "Traceback" not in refused.text
        assert not (root / "charts" / "local" / "llm-serving-0.3.0.tgz").exists()
        assert (root / "easel.lock").read_text() == lock
        updated = easel("-C", str(root), "charts", "pull", "--update")
    assert updated.code == 0, updated.text
    assert (f"updated  local/llm-serving 0.3.0  {digest(archive('llm-serving'))[:19]} -> {digest(changed)[:19]}"
            in updated.out)
    assert "1 pin changed" in updated.out
    assert pins(root) == {LLM: digest(changed)}
    assert (root / "charts" / "local" / "llm-serving-0.3.0.tgz").read_bytes() == changed


def test_update_fetches_everything_again(tmp_path):
    with http_helm_repository(tmp_path / "served", {"llm": archive("llm-serving")}) as url:
        root = helm_repository(tmp_path / "repo", url)
        assert easel("-C", str(root), "charts", "pull").code == 0
        again = easel("-C", str(root), "charts", "pull", "--update")
    assert again.code == 0, again.text
    assert "(unchanged)" in again.out and "fetched 1, already pinned 0, 0 pins changed" in again.out


def test_an_archive_without_a_pin_is_fetched_and_pinned(tmp_path):
    with http_helm_repository(tmp_path / "served", {"llm": archive("llm-serving")}) as url:
        root = helm_repository(tmp_path / "repo", url)
        stored = root / "charts" / "local" / "llm-serving-0.3.0.tgz"
        stored.parent.mkdir(parents=True)
        stored.write_bytes(archive("llm-serving"))
        assert "E110" in easel("-C", str(root), "validate").err  # not pinned
        run = easel("-C", str(root), "charts", "pull")
    assert run.code == 0, run.text
    assert pins(root) == {LLM: digest(archive("llm-serving"))}
    assert easel("-C", str(root), "validate").code == 0


def test_with_charts_commit_false_the_archives_go_to_easels_cache(tmp_path):
    with http_helm_repository(tmp_path / "served", {"llm": archive("llm-serving")}) as url:
        root = helm_repository(tmp_path / "repo", url, settings="charts: {commit: false}")
        run = easel("-C", str(root), "charts", "pull")
    assert run.code == 0, run.text
    assert (root / ".easel-cache" / "charts" / "local" / "llm-serving-0.3.0.tgz").is_file()
    assert not (root / "charts").exists() and LLM in pins(root)
    assert easel("-C", str(root), "validate").code == 0


def test_pins_of_charts_no_profile_uses_are_dropped_with_their_archives(tmp_path):
    with http_helm_repository(tmp_path / "served", {"llm": archive("llm-serving")}) as url:
        root = helm_repository(tmp_path / "repo", url)
        assert easel("-C", str(root), "charts", "pull").code == 0
        helm_repository(root, url, charts=())
        stray = root / "charts" / "other" / "batch-tools-1.2.0.tgz"  # neither pinned nor used: compiling refuses it
        stray.parent.mkdir()
        stray.write_bytes(archive("batch-tools"))
        run = easel("-C", str(root), "charts", "pull")
    assert run.code == 0, run.text
    assert "removed  local/llm-serving 0.3.0  (no profile uses it)" in run.out
    assert "removed  other/batch-tools 1.2.0  (no profile uses it)" in run.out
    assert pins(root) == {} and list((root / "charts").iterdir()) == []  # the folders they were in too
    assert easel("-C", str(root), "validate").code == 0


def test_a_chart_from_a_git_repository_is_fetched_at_its_ref_and_pinned_with_its_commit(tmp_path):
    # (tests/test_git_chart_pull.py: moved refs, failures, the proof and the engines)
    source = pygit2.init_repository(str(tmp_path / "source"), initial_head="main")
    shutil.copytree(CHARTS / "batch-tools", tmp_path / "source/charts/tools")
    source.index.add_all()
    author = pygit2.Signature("Easel Test", "test@example.com", 1_700_000_000, 0)
    commit = source.create_commit("HEAD", author, author, "tools", source.index.write_tree(), [])
    source.references.create("refs/tags/v1.0.0", commit)
    url = (tmp_path / "source").resolve().as_uri()
    root = config_repository(tmp_path / "repo", {"source": "{type: git, url: 'https://git.example.com/c.git', "
                                                           "ref: {tag: v1.0.0}}"}, [])
    profile = root / "profiles/serving.yaml"  # a Git repository's chart is named by its folder there
    profile.write_text(profile.read_text().split("  components:")[0] + "  components:\n    - {name: c0, type: "
                       "helm-chart, properties: {repository: source, path: charts/tools}}\n")
    (tmp_path / "home").mkdir()  # git's own config sends the repository's address to the local one: no network
    (tmp_path / "home/.gitconfig").write_text(f'[url "{url}"]\n\tinsteadOf = https://git.example.com/c.git\n')
    level = pygit2.enums.ConfigLevel.GLOBAL
    before, pygit2.settings.search_path[level] = pygit2.settings.search_path[level], str(tmp_path / "home")
    try:
        run = easel("-C", str(root), "charts", "pull")
    finally:
        pygit2.settings.search_path[level] = before
    assert run.code == 0, run.text
    assert "W109" not in run.err and "fetched  source/tools v1.0.0" in run.out  # at the Repository's ref
    stored = root / "charts/source/tools@v1.0.0.tgz"
    assert stored.read_bytes() == pack_folder(tmp_path / "source/charts/tools")[2]
    assert lockfile.parse((root / "easel.lock").read_text())[0].chart_manifests == {
        ("source", "tools", "v1.0.0"): str(commit)}


# --- failures: each an error naming the chart and its repository, exit status 1, nothing written -----------------

def assert_nothing_written(root: Path) -> None:
    assert not (root / "charts").exists() and not (root / "easel.lock").exists()


def test_an_archive_that_is_not_the_one_the_index_describes_is_refused(tmp_path):
    with http_helm_repository(tmp_path / "served", {"llm": archive("llm-serving")}) as url:
        index = tmp_path / "served" / "index.yaml"
        other = hashlib.sha256(b"another archive").hexdigest()
        index.write_text(index.read_text().replace(hashlib.sha256(archive("llm-serving")).hexdigest(), other))
        root = helm_repository(tmp_path / "repo", url)
        run = easel("-C", str(root), "charts", "pull")
    assert run.code == 1 and error_codes(run.err) == ["E910"], run.text
    assert "local/llm-serving 0.3.0" in run.err and f"the index says {other}" in run.err
    assert_nothing_written(root)


def test_a_version_the_index_does_not_list_is_an_error_that_lists_those_it_does(tmp_path):
    with http_helm_repository(tmp_path / "served", {"llm": archive("llm-serving")}) as url:
        root = helm_repository(tmp_path / "repo", url, charts=(("local", "llm-serving", "9.9.9"),))
        run = easel("-C", str(root), "charts", "pull")
    assert run.code == 1 and error_codes(run.err) == ["E909"], run.text
    assert "has no chart llm-serving 9.9.9 (it has 0.3.0)" in run.err
    assert_nothing_written(root)


def test_one_chart_failing_writes_none_of_the_others(tmp_path):
    with http_helm_repository(tmp_path / "served", {"llm": archive("llm-serving")}) as url:
        root = helm_repository(tmp_path / "repo", url, charts=(LLM, ("local", "batch-tools", "1.2.0")))
        run = easel("-C", str(root), "charts", "pull")
    assert run.code == 1 and error_codes(run.err) == ["E909"] and "local/batch-tools 1.2.0" in run.err
    assert_nothing_written(root)


def test_an_unreachable_repository_is_a_clear_error(tmp_path):
    root = helm_repository(tmp_path / "repo", f"http://127.0.0.1:{free_port()}/charts",
                           charts=(LLM, ("local", "batch-tools", "1.2.0")))
    run = easel("-C", str(root), "charts", "pull")
    assert run.code == 1 and error_codes(run.err) == ["E909", "E909"], run.text
    assert "chart local/llm-serving 0.3.0 cannot be fetched from repository local" in run.err
    assert "cannot reach 127.0.0.1" in run.err and "hint:" in run.err and "Traceback" not in run.text
    assert_nothing_written(root)


def test_a_repository_that_does_not_answer_times_out(tmp_path, monkeypatch):
    monkeypatch.setattr(transport, "TIMEOUT", 0.2)
    with socket.socket() as silent:  # accepts connections (the kernel does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        root = helm_repository(tmp_path / "repo", f"http://127.0.0.1:{port}")
        run = easel("-C", str(root), "charts", "pull")
    assert run.code == 1 and error_codes(run.err) == ["E909"], run.text
    assert "chart local/llm-serving 0.3.0 cannot be fetched from repository local" in run.err
    assert f"127.0.0.1:{port} did not answer within 0.2 s" in run.err
    assert_nothing_written(root)


# --- an OCI registry that asks for a token, as public registries do ---------------------------------------------

class _TokenRegistry(http.server.BaseHTTPRequestHandler):
    """A registry holding batch-tools 1.2.0 under charts/, that answers only with a bearer token from its realm
    (anonymous, scoped), and keeps its blobs elsewhere (a redirect to storage that refuses any Authorization)."""
    token = "anonymous-pull-token"
    asked: list[str]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        host = f"127.0.0.1:{self.server.server_address[1]}"
        self.asked.append(self.path)
        data = archive("batch-tools")
        if self.path.startswith("/token?"):
            assert "scope=repository%3Acharts%2Fbatch-tools%3Apull" in self.path
            return self._send(200, json.dumps({"token": self.token}).encode())
        if self.path.startswith("/storage/"):
            return self._send(400 if self.headers.get("Authorization") else 200, data)
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            return self._send(401, b"{}", {"WWW-Authenticate": f'Bearer realm="http://{host}/token",'
                                           f'service="{host}",scope="repository:charts/batch-tools:pull"'})
        if self.path == "/v2/charts/batch-tools/manifests/1.2.0":
            return self._send(200, chart_manifest(data), {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        if self.path == f"/v2/charts/batch-tools/blobs/{digest(data)}":
            return self._send(307, headers={"Location": f"http://{host}/storage/blob"})
        return self._send(404)


@contextlib.contextmanager
def token_registry() -> Iterator[tuple[str, list[str]]]:
    asked: list[str] = []
    handler = type("Handler", (_TokenRegistry,), {"asked": asked})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_an_oci_registry_that_asks_for_an_anonymous_token_gets_one(tmp_path):
    with token_registry() as (registry, asked):
        root = config_repository(tmp_path / "repo", {"registry": f"{{type: oci, url: 'oci://{registry}/charts'}}"},
                                 [BATCH])
        run = easel("-C", str(root), "charts", "pull", env={"DOCKER_CONFIG": str(tmp_path / "no-docker"),
                                                            "HELM_REGISTRY_CONFIG": str(tmp_path / "no-helm")})
    assert run.code == 0, run.text
    assert (root / "charts" / "registry" / "batch-tools-1.2.0.tgz").read_bytes() == archive("batch-tools")
    assert [path.split("?")[0] for path in asked] == [
        "/v2/charts/batch-tools/manifests/1.2.0", "/token", "/v2/charts/batch-tools/manifests/1.2.0",
        f"/v2/charts/batch-tools/blobs/{digest(archive('batch-tools'))}", "/storage/blob"]


# --- what pull refuses before fetching anything ------------------------------------------------------------------

def test_a_repository_with_errors_in_its_documents_is_not_pulled_for(tmp_path):
    root = helm_repository(tmp_path / "repo", "http://127.0.0.1:9", charts=(("elsewhere", "llm-serving", "0.3.0"),))
    run = easel("-C", str(root), "charts", "pull")
    assert run.code == 1 and "E302" in error_codes(run.err) and "unknown repository 'elsewhere'" in run.err
    assert_nothing_written(root)


@pytest.mark.parametrize("path", [".", "output/charts", "../charts"])
def test_charts_path_must_be_a_folder_of_the_repository_apart_from_the_output(tmp_path, path):
    root = helm_repository(tmp_path / "repo", "http://127.0.0.1:9", settings=f"charts: {{path: '{path}'}}")
    run = easel("-C", str(root), "charts", "pull")
    assert run.code == 1 and error_codes(run.err) == ["E911"], run.text
    assert_nothing_written(root)


def test_a_chart_name_or_version_that_would_be_a_path_is_refused(tmp_path):
    root = helm_repository(tmp_path / "repo", "http://127.0.0.1:9")
    (root / "profiles" / "unused.yaml").write_text(docs(
        "kind: WorkloadProfile\nmetadata: {name: unused}\nspec:\n  version: 1.0.0\n  type: Application\n"
        "  components:\n    - {name: c, type: helm-chart, properties: {repository: local, chart: x, "
        "version: ../../../escape}}"))
    run = easel("-C", str(root), "charts", "pull")
    assert run.code == 1 and "chart 'local/x ../../../escape' is not a repository, chart name and version" in run.err
    assert_nothing_written(root)


def test_the_lock_keeps_pins_sorted_and_says_nothing_of_charts_without_any():
    decisions = lockfile.parse(lockfile.dump(lockfile.Decisions(charts={BATCH: digest(b"b"), LLM: digest(b"l")})))[0]
    assert list(decisions.charts) == [LLM, BATCH]
    assert "charts:" not in lockfile.dump(lockfile.Decisions())


def test_a_docker_login_is_found_for_its_registry(tmp_path, monkeypatch):
    from compiler.commands.chart_pull import credentials

    (tmp_path / "config.json").write_text(json.dumps({"auths": {
        "registry.example.com": {"auth": "dXNlcjpzZWNyZXQ="}, "https://index.docker.io/v1/": {
            "username": "hub", "password": "pw"}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setenv("HELM_REGISTRY_CONFIG", str(tmp_path / "none.json"))
    assert credentials.basic("registry.example.com") == "dXNlcjpzZWNyZXQ="
    assert credentials.basic("registry-1.docker.io") == "aHViOnB3"
    assert credentials.basic("ghcr.io") is None
