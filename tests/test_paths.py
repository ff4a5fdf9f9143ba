"""One path guard: easel writes and deletes only inside the repository's output folder (every symbolic link on
the way followed), reads only inside the repository, never hangs on a FIFO, and names from input never become
path parts without a strict slug."""

from __future__ import annotations

import os

import yaml
from conftest import copy_init_repo, easel, tree, write_files


def test_an_output_folder_through_a_symlink_outside_is_refused_and_nothing_is_written(tmp_path):
    repo = copy_init_repo(tmp_path / "repo")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not easel's")
    (repo / "sub").symlink_to(outside)
    settings = repo / "easel.yaml"
    settings.write_text(settings.read_text().replace("output: output", "output: sub/inner")
                        if "output:" in settings.read_text() else settings.read_text() + "  output: sub/inner\n")
    run = easel("compile", cwd=repo)
    assert run.code == 1 and "error[E802]" in run.err and "leads outside the repository" in run.err, run.text
    assert tree(outside) == {"keep.txt": b"not easel's"}


def test_a_symlink_inside_the_output_is_never_written_through(tmp_path):
    repo = copy_init_repo(tmp_path / "repo")
    assert easel("compile", cwd=repo).code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    clusters = repo / "output/clusters"
    local = clusters / "local"
    os.rename(local, elsewhere / "local")
    local.symlink_to(elsewhere / "local")
    before = tree(elsewhere)
    write_files(repo, {"workloads/demo/hello.yaml": (repo / "workloads/demo/hello.yaml").read_text().replace(
        "hello, world", "hello, again")})
    run = easel("compile", cwd=repo)
    assert run.code == 1 and "clusters/local in it is a symbolic link" in run.err, run.text
    assert tree(elsewhere) == before


def test_names_from_input_are_slugs_in_paths(tmp_path):
    repo = copy_init_repo(tmp_path / "repo")
    write_files(repo, {"profiles/oci.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: Repository
        metadata: {name: registry}
        spec: {type: oci, url: oci://ghcr.io/example/charts}
    """})
    profile = repo / "profiles/hello/1.0.0.yaml"
    text = profile.read_text()
    assert "type: webservice" in text
    write_files(repo, {"profiles/hello/1.0.0.yaml": text.replace("""components:
    - name: web""", """components:
    - name: extra
      type: helm-chart
      properties: {repository: registry, chart: "Etc..x", version: "v1.0.0+y", target: {kind: Deployment},
                   container: app}
    - name: web""")})
    run = easel("compile", cwd=repo)
    assert run.code == 0, run.text
    written = [p for p in tree(repo / "output") if "sources" in p]
    assert written and all(".." not in p and p.count("/") == 4 for p in written), written
    [source] = [p for p in written if p.startswith("clusters/local/flux/sources/registry-")]
    oci = yaml.safe_load((repo / "output" / source).read_text())
    assert oci["spec"]["url"] == "oci://ghcr.io/example/charts/Etc..x"  # the value itself is left as written
    # a name or version that is a path is refused where it is written (tests/test_chart_names.py)
    write_files(repo, {"profiles/hello/1.0.0.yaml": profile.read_text().replace('"Etc..x"', '"../../etc"')})
    refused = easel("compile", cwd=repo)
    assert refused.code == 1 and "is not a chart name" in refused.err and "profiles/hello/1.0.0.yaml:" in refused.err


def test_fifos_links_outside_and_loops_are_located_errors_not_hangs(tmp_path):
    repo = copy_init_repo(tmp_path / "repo")
    os.mkfifo(repo / "workloads/fifo.yaml")
    (repo / "profiles/l1.yaml").symlink_to("l2.yaml")
    (repo / "profiles/l2.yaml").symlink_to("l1.yaml")
    run = easel("validate", cwd=repo)
    assert run.code == 1 and "Traceback" not in run.text
    assert "workloads/fifo.yaml: error[E105]: cannot read workloads/fifo.yaml: not a regular file" in run.err
    assert "profiles/l1.yaml: error[E106]" in run.err
    outside = tmp_path / "outside"
    os.rename(repo / "environments", outside)
    (repo / "environments").symlink_to(outside)
    run = easel("validate", cwd=repo)
    assert run.code == 1 and "input folder 'environments' leads outside the repository" in run.err, run.text
