"""`easel validate` rejects whatever `easel compile` rejects (SPEC §3): on repositories that only the later
stages find fault with (planning, proving: E306, E412, E603, E604, E605, E801, W105) and on an output folder
that leads outside the repository (E802), the two commands print the same diagnostics, at the same places, and
exit alike. tests/scenario.py's compile_files compares the two on every scenario of the suite, in memory; here
they run as the command line runs them, cache replay included."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import test_argocd_governance
import test_bad_input
import test_gpu_dra
import test_inventory_import_dra
import test_isolation
import test_node_selection
import test_ordering
from builders import docs
from conftest import copy_init_repo, easel, write_files


def _init_repo_with(files: dict[str, str]) -> Callable[[Path], Path]:
    """The `easel init` repository with these files replaced or added."""
    return lambda root: write_files(copy_init_repo(root), files)


def _scenario(files: dict[str, str]) -> Callable[[Path], Path]:
    """A repository of exactly these files (a scenario of the in-memory tests, on disk)."""
    return lambda root: write_files(root, files)


def _governed_namespace_clash() -> dict[str, str]:
    """Workloads `w-x` of project team and `x` of project team-w: both want the namespace team-w-x."""
    files = {**test_argocd_governance.FILES, "profiles/more.yaml": docs("""
kind: Project
metadata: {name: team-w}
spec: {}
"""), "workloads/x.yaml": docs("""
kind: Workload
metadata: {name: x}
spec: {project: team-w, environment: dev, profile: {name: app}}
""")}
    files["workloads/w.yaml"] = files["workloads/w.yaml"].replace("metadata: {name: w}", "metadata: {name: w-x}")
    return files


FOLDER_FROM_PARAMETER = {"profiles/base/kustomization.yaml": "resources: []\n", "profiles/folder/1.0.0.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: WorkloadProfile
        metadata: {name: folder}
        spec:
          version: 1.0.0
          parameters: {folder: {type: string, default: profiles/elsewhere}}
          components:
            - name: base
              type: kustomize
              properties: {path: "{{ params.folder }}", target: {kind: Deployment, name: app}, container: app}
        """, "workloads/demo/folder.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: Workload
        metadata: {name: folder}
        spec: {project: demo, environment: dev, profile: {name: folder}}
        """}

L40S_TAGGED = test_node_selection.TAGGED % ""
DRA_SAID = test_gpu_dra._cluster("said", ["{name: d, facts: {gpus: [{product: NVIDIA-L4, memory: 24Gi, count: 2}]}}"],
                                 "dra")

# id -> (the code the compile reports, how to write the repository)
SCENARIOS: dict[str, tuple[str, Callable[[Path], Path]]] = {
    "E412-crd-nothing-installs": ("E412", _scenario(test_ordering._files(crds="crds: []"))),
    "E603-selector-no-booked-device-satisfies": (
        "E603", _scenario(test_node_selection._files(L40S_TAGGED, "{count: 1, product: NVIDIA-L40S}"))),
    "E604-dra-gpus-booked-for-the-device-plugin": (
        "E604", _scenario(test_inventory_import_dra._on_imported_gpus("{count: 1}", "device-plugin"))),
    "E605-dra-product-never-imported": (
        "E605", _scenario(test_gpu_dra._fleet("{count: 1, product: NVIDIA-L4}", DRA_SAID))),
    "E801-shared-namespace-two-isolations": ("E801", _init_repo_with(test_bad_input.SHARED_NAMESPACE)),
    "E801-governed-namespace-clash": ("E801", _scenario(_governed_namespace_clash())),
    "E306-a-folder-a-parameter-names-is-not-there": ("E306", _init_repo_with(FOLDER_FROM_PARAMETER)),
    "W105-strict-isolation-cuts-the-ingress-off": (
        "W105", _scenario(test_isolation._files("{isolation: strict}"))),
    "E302-an-early-stage-too": ("E302", _init_repo_with(test_bad_input.edit(test_bad_input.WORKLOAD,
                                                                            ("{name: hello,", "{name: helo,")))),
}


def _json_diagnostics(run) -> list[dict]:
    return json.loads(run.out)["diagnostics"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_validate_reports_what_compile_reports(tmp_path: Path, name: str):
    code, make = SCENARIOS[name]
    for folder in ("text", "json"):  # a compile that succeeds writes easel.lock: each format gets its own copy
        make(tmp_path / folder)
    text, as_json = str(tmp_path / "text"), str(tmp_path / "json")
    validated, replayed, compiled = (easel("-C", text, "validate"), easel("-C", text, "validate"),
                                     easel("-C", text, "compile"))
    assert f"[{code}]" in compiled.err, compiled.text
    assert "Traceback" not in validated.text + compiled.text
    assert (validated.code, validated.err) == (compiled.code, compiled.err)
    assert (replayed.code, replayed.err) == (validated.code, validated.err)  # the cache says it again
    validated, compiled = easel("-C", as_json, "validate", "--format", "json"), easel("-C", as_json, "compile",
                                                                                   "--format", "json")
    assert validated.code == compiled.code
    assert _json_diagnostics(validated) == _json_diagnostics(compiled)


def _output_leads_elsewhere(repo: Path) -> Path:
    """The repository's output folder made a symbolic link to a folder outside it."""
    elsewhere = repo.parent / "elsewhere"
    elsewhere.mkdir()
    (repo / "output").symlink_to(elsewhere, target_is_directory=True)
    return elsewhere


def test_an_output_folder_that_leads_outside_the_repository_fails_validate_as_it_fails_compile(repo: Path):
    assert easel("-C", str(repo), "validate").code == 0  # recorded in the cache: the link is no input file
    elsewhere = _output_leads_elsewhere(repo)
    validated, compiled = easel("-C", str(repo), "validate"), easel("-C", str(repo), "compile")
    assert validated.code == compiled.code == 1, validated.text
    assert "error[E802]" in validated.err and "leads outside the repository" in validated.err
    assert validated.err == compiled.err
    assert not any(elsewhere.iterdir())


def test_a_clean_repository_passes_both(repo: Path):
    validated, compiled = easel("-C", str(repo), "validate"), easel("-C", str(repo), "compile")
    # the scaffold's one warning: its repoURL is a placeholder until the user sets it (W111)
    assert (validated.code, validated.err) == (compiled.code, compiled.err)
    assert validated.code == 0 and re.findall(r"\[([EW]\d+)\]", validated.err) == ["W111"]
    assert validated.out.startswith("ok: ")


def test_a_tree_that_fails_its_proof_fails_validate_as_it_fails_compile(tmp_path):
    """validate renders each cluster's tree and proves it, as compile does when it writes: a trait that asks for
    GPUs no booking counts is E810 for both."""
    from test_prove_tree import greedy_files
    files = greedy_files("c")
    repo = tmp_path / "repo"
    write_files(repo, {"easel.yaml": "apiVersion: easel.dev/v1alpha1\nkind: Settings\nspec: {}\n", **files})
    compiled, validated = easel("compile", cwd=repo), easel("validate", cwd=repo)
    assert compiled.code == validated.code == 1
    assert "error[E810]" in validated.err and validated.err == compiled.err
