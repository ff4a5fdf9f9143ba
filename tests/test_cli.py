"""The command line end to end, through the real `easel` process."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
import yaml
from builders import cluster_file, copy_example
from conftest import copy_init_repo, easel, easel_process, tree, write_files


@pytest.mark.slow  # starts Python processes
def test_the_console_script_and_the_module_run_as_processes(repo):
    """Smoke test of what the tests run in process: the installed `easel` script and `python -m compiler`."""
    import subprocess
    import sys

    script = shutil.which("easel", path=str(Path(sys.executable).parent)) or shutil.which("easel")
    assert script, "the easel console script is not installed"
    proc = subprocess.run([script, "-C", str(repo), "validate"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("ok: 1 workload, 1 placement on 1 cluster"), \
        proc.stdout + proc.stderr
    run = easel_process("compile", "--check", cwd=repo)
    assert run.code == 1 and "error[E803]" in run.err


def test_init_creates_a_repository_that_compiles(tmp_path):
    run = easel("-C", str(tmp_path), "init", "fresh")
    assert run.code == 0, run.text
    compiled = easel("-C", str(tmp_path / "fresh"), "compile")
    assert compiled.code == 0, compiled.text
    release = tmp_path / "fresh/output/clusters/local/workloads/demo/hello/web/objects.yaml"
    deployment, service = list(yaml.safe_load_all(release.read_text()))
    assert deployment["kind"] == "Deployment" and service["kind"] == "Service"
    assert deployment["metadata"]["namespace"] == "demo-hello"
    # Pod Security "restricted": non-root (the image's user is root: the scaffold names one), RuntimeDefault
    # seccomp, no privilege escalation, every capability dropped
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
                                      "runAsUser": 65532}
    assert pod["containers"][0]["securityContext"] == {"allowPrivilegeEscalation": False,
                                                       "capabilities": {"drop": ["ALL"]}}
    assert pod["containers"][0]["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]


def test_init_refuses_to_overwrite(repo):
    run = easel("-C", str(repo), "init")
    assert run.code == 1
    assert "already has" in run.err
    assert "Traceback" not in run.text


def test_validate_reports_success_without_writing(repo):
    run = easel("validate", cwd=repo)
    assert run.code == 0, run.text
    assert "ok: 1 workload, 1 placement on 1 cluster" in run.out
    assert not (repo / "output").exists()


def test_validate_and_compile_count_placements_alike_and_the_clusters_they_are_on(repo):
    write_files(repo, {**cluster_file("idle-1", "{tier: none}"), **cluster_file("idle-2", "{tier: none}")})
    run = easel("validate", cwd=repo)
    assert run.out.startswith("ok: 1 workload, 1 placement on 1 cluster of 3\n"), run.text
    run = easel("compile", cwd=repo)
    assert run.out.startswith("compiled 1 workload into 1 placement on 1 cluster of 3: "), run.text
    assert easel("compile", "--check", cwd=repo).out.startswith("up to date: 16 files for 1 placement on 1 cluster of 3")


def test_compile_then_check_then_stale(repo):
    assert easel("compile", cwd=repo).code == 0
    assert easel("compile", "--check", cwd=repo).code == 0
    workload = repo / "workloads/demo/hello.yaml"
    workload.write_text(workload.read_text().replace("hello, world", "hello, again"))
    stale = easel("compile", "--check", cwd=repo)
    assert stale.code == 1
    assert "error[E803]" in stale.err
    assert "changed  clusters/local/workloads/demo/hello/web/objects.yaml" in stale.err


def test_recompile_with_nothing_changed_writes_nothing(repo):
    assert easel("compile", cwd=repo).code == 0
    stamps = {p: p.stat().st_mtime_ns for p in (repo / "output").rglob("*") if p.is_file()}
    run = easel("compile", cwd=repo)
    assert run.code == 0
    assert "0 added, 0 changed, 0 removed" in run.out
    assert {p: p.stat().st_mtime_ns for p in (repo / "output").rglob("*") if p.is_file()} == stamps


def test_files_no_longer_produced_are_pruned(repo):
    assert easel("compile", cwd=repo).code == 0
    (repo / "workloads/demo/hello.yaml").unlink()
    run = easel("compile", cwd=repo)
    assert run.code == 0, run.text
    assert not (repo / "output/clusters/local/workloads").exists()
    assert (repo / "output/clusters/local/kustomization.yaml").is_file()


def test_out_writes_elsewhere(repo, tmp_path):
    run = easel("compile", "--out", str(tmp_path / "elsewhere"), cwd=repo)
    assert run.code == 0, run.text
    assert (tmp_path / "elsewhere/clusters/local/kustomization.yaml").is_file()
    assert not (repo / "output").exists()


def test_out_refuses_a_folder_easel_did_not_write(repo, tmp_path):
    foreign = tmp_path / "home"
    write_files(foreign, {"notes.txt": "mine"})
    run = easel("compile", "--out", str(foreign), cwd=repo)
    assert run.code == 1
    assert "error[E802]" in run.err
    assert (foreign / "notes.txt").read_text() == "mine"


def test_dash_c_runs_elsewhere(repo, tmp_path):
    run = easel("-C", str(repo), "validate", cwd=tmp_path)
    assert run.code == 0, run.text


def test_bad_usage_exits_2(repo):
    assert easel("compile", "--no-such-flag", cwd=repo).code == 2
    assert easel("explain", cwd=repo).code == 2
    assert easel("validate", "--format", "yaml", cwd=repo).code == 2


def test_explain_text_names_layers_and_clusters(repo):
    write_files(repo, cluster_file("far", "{tier: prod}"))
    run = easel("explain", "hello", cwd=repo)
    assert run.code == 0, run.text
    assert "profile hello 1.0.0" in run.out
    assert "message   'hello, world'  ← workload (workloads/demo/hello.yaml:11:14)" in run.out
    assert "replicas  1  ← profile" in run.out
    assert "✓ local" in run.out
    assert "✗ far    not selected: label tier is 'prod', selector wants 'dev'" in run.out


def test_explain_json_and_cluster(repo):
    report = json.loads(easel("explain", "demo/hello", "--format", "json", cwd=repo).out)
    assert report["namespace"] == "demo-hello"
    assert {p["name"]: p["layer"] for p in report["parameters"]} == {"message": "workload", "replicas": "profile"}
    cluster = json.loads(easel("explain", "--cluster", "local", "--format", "json", cwd=repo).out)
    assert cluster["labels"]["easel.dev/source"] == "byoc"
    assert cluster["labels"]["easel.dev/kubernetes-version"] == "1.30.2"
    assert cluster["workloads"] == ["demo/hello"]


def test_explain_unknown_workload(repo):
    run = easel("explain", "nope", cwd=repo)
    assert run.code == 1
    assert "error[E901]: no workload 'nope'" in run.err


def test_schema_prints_json_schemas():
    one = json.loads(easel("schema", "Workload").out)
    assert one["properties"]["kind"]["const"] == "Workload"
    assert one["properties"]["spec"]["additionalProperties"] is False
    every = json.loads(easel("schema").out)
    assert set(every["$defs"]) >= {"Workload", "Cluster", "Device", "Environment", "WorkloadProfile"}
    assert easel("schema", "Nope").code == 2


def test_codes_lists_and_explains():
    listing = easel("codes")
    assert "E203  unknown field" in listing.out
    assert "hint:" in easel("codes", "E403").out


def _shuffled_copy(source: Path, target: Path, seed: int) -> None:
    files = [p for p in source.rglob("*") if p.is_file() and "output" not in p.relative_to(source).parts]
    random.Random(seed).shuffle(files)
    for path in files:  # created in another order: directory listing order differs on most file systems
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, destination)


@pytest.mark.slow  # four real compile processes, each with its own hash seed
@pytest.mark.parametrize("repository", ["init", "example"])
def test_output_is_byte_for_byte_deterministic(tmp_path, repository):
    source = tmp_path / "source"
    source.mkdir()
    if repository == "init":
        copy_init_repo(source)
    else:
        copy_example(source, lock=False)
    outputs = []
    for seed, hashseed in ((1, "0"), (2, "12345")):
        copy = tmp_path / f"copy{seed}"
        _shuffled_copy(source, copy, seed)
        run = easel_process("compile", cwd=copy, env={"PYTHONHASHSEED": hashseed})
        assert run.code == 0, run.text
        outputs.append(tree(copy / "output"))
    assert outputs[0] == outputs[1]
    assert outputs[0]


def test_compile_writes_the_lock_and_reports_moves(repo):
    assert easel("compile", cwd=repo).code == 0
    assert "placements:\n  demo/hello:\n  - local\n" in (repo / "easel.lock").read_text()
    write_files(repo, cluster_file("spare", "{tier: dev}"))
    # dev has no numberOfClusters: the workload also goes to the new cluster, and stays on local
    run = easel("compile", cwd=repo)
    assert "also placed demo/hello on spare" in run.out
    cluster = repo / "clusters/local.yaml"
    cluster.write_text(cluster.read_text().replace("labels: {tier: dev}", "labels: {tier: retired}"))
    check = easel("compile", "--check", cwd=repo)
    assert check.code == 1 and "easel.lock is not up to date" in check.err
    assert "moved demo/hello off local (not selected: label tier is 'retired', selector wants 'dev'); now on spare" \
        in check.err
    run = easel("compile", cwd=repo)
    assert run.code == 0 and "moved demo/hello off local" in run.out
    assert easel("compile", "--check", cwd=repo).code == 0


def test_version_is_a_command_too():
    import json

    from compiler import __version__

    assert easel("version").out == f"easel {__version__}\n" and __version__ in easel("--version").out
    report = json.loads(easel("version", "--format", "json").out)
    assert report["apiVersion"] == "easel.dev/v1alpha1" and report["kind"] == "Version"
    assert report["version"] == __version__


def test_a_folder_that_is_no_config_repository_is_said_to_be_one_and_nothing_is_written(tmp_path):
    for command in (["validate"], ["compile"], ["lock"], ["status"]):
        run = easel(*command, cwd=tmp_path)
        assert run.code == 1 and "error[E902]" in run.err and "is not a config repository" in run.err, run.text
    assert list(tmp_path.iterdir()) == []  # no easel.lock, no .easel-cache


def test_compile_out_dash_is_bad_usage_not_a_folder_named_dash(repo):
    run = easel("compile", "--out", "-", cwd=repo)
    assert run.code == 2 and "standard output is not a folder" in run.err, run.text
    assert not (repo / "-").exists()


def test_global_options_may_follow_the_subcommand(repo):
    from compiler.cli.common import globals_first

    assert easel("validate", "-C", str(repo)).text == easel("-C", str(repo), "validate").text
    assert easel("rollout", "status", "--no-wait", f"-C{repo}").code == 0
    assert globals_first(["compile", "--out", "o", "-C", "r", "--no-cache"]) == [
        "-C", "r", "--no-cache", "compile", "--out", "o"]
    assert globals_first(["-C", "x", "diff", "--", "-C"]) == ["-C", "x", "diff", "--", "-C"]


def test_completion_scripts_and_the_names_they_complete():
    from click.shell_completion import ShellComplete
    from conftest import ROOT

    from compiler.cli.common import cli

    for shell, marker in (("bash", "complete -o nosort -F"), ("zsh", "compdef"), ("fish", "complete --no-files")):
        run = easel("completion", shell)
        assert run.code == 0 and marker in run.out and "_EASEL_COMPLETE" in run.out, shell
    assert easel("completion", "tcsh").code == 2

    def completed(args: list[str], incomplete: str) -> list[str]:
        return [c.value for c in ShellComplete(cli, {}, "easel", "_EASEL_COMPLETE").get_completions(args, incomplete)]

    example = ["-C", str(ROOT)]
    assert completed([*example, "explain", "--cluster"], "dc-") == ["dc-east-1", "dc-north-1", "dc-west-1"]
    assert completed([*example, "explain"], "vision/ca") == ["vision/caption-embed", "vision/catalog-embed"]
    assert completed([*example, "explain"], "ca") == ["caption-embed", "catalog-embed"]  # bare, as explain takes them
    assert completed([*example, "explain"], "n") == ["nightly-eval", "nlp/embeddings", "nlp/summarizer",
                                                     "nlp/support-bot"]
    assert completed([*example, "rollout", "advance"], "") == ["research/ray-sandbox"]  # the rollout in progress
    assert completed([*example, "rollout", "rollback"], "nlp/") == []
    assert completed(["inventory", "import", *example, "--cluster"], "lab") == ["lab-east-1"]  # -C after it
    assert completed(["schema"], "Work") == ["Workload", "WorkloadProfile"]
    assert completed(["schema"], "helm") == ["helm-chart"]  # the built-in definitions too
    assert completed([*example, "build"], "edge") == ["edge-fra-1"]
    assert "compile" in completed([], "co") and "completion" in completed([], "co")


def test_out_folders_of_report_and_schema_must_be_folders(repo):
    (repo / "afile").write_text("keep me\n")
    for command in (["report"], ["schema"]):
        for bad in ("-", ""):
            run = easel(*command, "--out", bad, cwd=repo)
            assert run.code == 2 and "give a folder" in run.err, run.text
        run = easel(*command, "--out", "afile", cwd=repo)
        assert run.code == 1 and "error[E802]" in run.err and "afile is not a folder" in run.err, run.text
    assert (repo / "afile").read_text() == "keep me\n"
    assert not (repo / "-").exists() and not (repo / "index.html").exists()
