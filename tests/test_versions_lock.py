"""Versions in easel.lock: kept until `easel lock --update`, checked by `compile --locked`, and a published
profile version that changes after it was locked is an error."""

from __future__ import annotations

import shutil

import yaml
from conftest import easel, write_files


def _publish(repo, version: str, message: str = "hello from easel") -> None:
    source = (repo / "profiles/hello/1.0.0.yaml").read_text()
    text = source.replace("version: 1.0.0", f"version: {version}").replace("hello from easel", message)
    (repo / f"profiles/hello/{version}.yaml").write_text(text)


def _versions(repo) -> dict[str, str]:
    return yaml.safe_load((repo / "easel.lock").read_text())["versions"]


def test_a_new_version_waits_for_lock_update(repo):
    assert easel("compile", cwd=repo).code == 0
    assert _versions(repo) == {"demo/hello": "hello 1.0.0"}
    _publish(repo, "1.1.0")
    run = easel("compile", cwd=repo)  # the workload's range "^1.0" admits 1.1.0, but the lock keeps 1.0.0
    assert run.code == 0 and _versions(repo) == {"demo/hello": "hello 1.0.0"}
    run = easel("lock", "--update", cwd=repo)
    assert run.code == 0, run.text
    assert "updated demo/hello: hello 1.0.0 -> hello 1.1.0" in run.out
    assert _versions(repo) == {"demo/hello": "hello 1.1.0"}
    deployment = next(yaml.safe_load_all((repo / "output/clusters/local/workloads/demo/hello/web/objects.yaml").read_text()))
    assert deployment["metadata"]["labels"]["easel.dev/profile-version"] == "1.1.0"


def test_lock_update_of_one_profile_leaves_the_others(repo):
    shutil.copytree(repo / "profiles/hello", repo / "profiles/other")
    other = repo / "profiles/other/1.0.0.yaml"
    other.write_text(other.read_text().replace("name: hello", "name: other"))
    write_files(repo, {"workloads/demo/second.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: Workload
        metadata: {name: second}
        spec: {project: demo, environment: dev, profile: {name: other}}
    """})
    assert easel("compile", cwd=repo).code == 0
    _publish(repo, "1.1.0")
    text = other.read_text().replace("version: 1.0.0", "version: 1.1.0")
    (repo / "profiles/other/1.1.0.yaml").write_text(text)
    assert easel("lock", "--update", "other", cwd=repo).code == 0
    assert _versions(repo) == {"demo/hello": "hello 1.0.0", "demo/second": "other 1.1.0"}
    assert easel("lock", "--update", "nope", cwd=repo).code == 2


def test_compile_locked_fails_when_the_lock_would_change(repo):
    assert easel("compile", cwd=repo).code == 0
    assert easel("compile", "--locked", cwd=repo).code == 0
    write_files(repo, {"workloads/demo/new.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: Workload
        metadata: {name: new}
        spec: {project: demo, environment: dev, profile: {name: hello}}
    """})
    before = (repo / "easel.lock").read_text()
    run = easel("compile", "--locked", cwd=repo)
    assert run.code == 1 and "error[E804]: easel.lock would change" in run.err
    assert "placed demo/new on local" in run.err
    assert (repo / "easel.lock").read_text() == before
    check = easel("compile", "--check", cwd=repo)
    assert check.code == 1 and "error[E803]: easel.lock is not up to date with what this compile decides\n" \
        "    placed demo/new on local\n" in check.err, check.text
    assert not [line for line in run.err.splitlines() + check.err.splitlines() if line.endswith(" ")]
    assert not (repo / "output/clusters/local/workloads/demo/new").exists()


def test_a_published_version_that_changed_is_an_error(repo):
    assert easel("compile", cwd=repo).code == 0
    profile = repo / "profiles/hello/1.0.0.yaml"
    profile.write_text(profile.read_text().replace("default: hello from easel", "default: hello, edited"))
    run = easel("validate", cwd=repo)
    assert run.code == 1
    assert "profiles/hello/1.0.0.yaml:8:12: error[E504]: profile hello 1.0.0 changed after easel.lock recorded it" \
        in run.err
    # a comment is not a change
    profile.write_text(profile.read_text().replace("default: hello, edited", "default: hello from easel")
                       + "# reviewed 2026-11\n")
    assert easel("validate", cwd=repo).code == 0


def test_a_locked_version_no_longer_allowed_moves_to_the_newest_allowed(repo):
    _publish(repo, "1.1.0")
    assert easel("compile", cwd=repo).code == 0
    assert _versions(repo) == {"demo/hello": "hello 1.1.0"}
    workload = repo / "workloads/demo/hello.yaml"
    workload.write_text(workload.read_text().replace('version: "^1.0"', 'version: "~1.0.0"'))
    run = easel("compile", cwd=repo)
    assert run.code == 0 and "updated demo/hello: hello 1.1.0 -> hello 1.0.0" in run.out
