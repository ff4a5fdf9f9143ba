"""Errors at the cause: each diagnostic points at the input that caused it, with a note at the symptom when they
differ, and a look-up that fails says why.

Each case starts from the small working repository of `easel init` (the `repo` fixture), changed a few lines as
the cases of test_bad_input.py are, and reads the file at the printed `file:line:column` to show what it points at.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import INIT_REPO, easel
from test_bad_input import CLUSTER, ENV, PROFILE, WORKLOAD, append, build, edit, error_count, gpu_repo


def _point(repo: Path, where: str) -> str:
    """The text of the file from a printed `file:line:column` on."""
    file, line, column = where.split(":")
    return (repo / file).read_text().splitlines()[int(line) - 1][int(column) - 1:]


def _reported(run, code: str) -> tuple[str, list[str], str | None]:
    """The `file:line:column` of the first `code` diagnostic printed, its notes' lines and its hint."""
    lines = run.err.splitlines()
    start = next(i for i, line in enumerate(lines) if f"[{code}]:" in line)
    where = lines[start].split(": ")[0]
    notes, hint = [], None
    for line in lines[start + 1:]:
        if line.startswith("  note: "):
            notes.append(line.removeprefix("  note: "))
        elif line.startswith("  hint: "):
            hint = line.removeprefix("  hint: ")
        elif not line.startswith("    "):
            break
    return where, notes, hint


def _note_at(notes: list[str], text: str) -> str:
    """The `file:line:column` of the note whose message holds text."""
    found = next((n for n in notes if text in n), None)
    assert found is not None, f"no note with {text!r} in {notes}"
    return re.match(r"[^:]+:\d+:\d+", found).group(0)  # type: ignore[union-attr]


# --- E601: the hint says where its notes are ------------------------------------------------------------------

def test_unplaceable_workload_hint_refers_to_the_notes_printed_above_it(repo: Path):
    build(repo, gpu_repo(gpus=8))  # no device has 8 GPUs
    run = easel("-C", str(repo), "validate")
    assert run.code == 1 and "Traceback" not in run.text, run.text
    lines = run.err.splitlines()
    start = next(i for i, line in enumerate(lines) if "error[E601]" in line)
    block = lines[start + 1:start + 5]
    assert [line.split(":")[0] for line in block] == ["  note"] * 3 + ["  hint"], run.text
    assert "the notes above say why each cluster was passed over" in block[3], run.text
    assert "below" not in block[3], run.text
    assert _point(repo, _reported(run, "E601")[0]).startswith("dev"), run.text  # spec.environment's value


# --- E901: a mistyped name gets a did-you-mean; a name whose file failed shows that failure ---------------------

def test_an_unknown_workload_or_cluster_gets_a_did_you_mean(repo: Path):
    for args, message, meant in [(("explain", "helo"), "no workload 'helo'", "did you mean 'hello'?"),
                                 (("explain", "demo/helo"), "no workload 'demo/helo'", "did you mean 'demo/hello'?"),
                                 (("explain", "--cluster", "locl"), "no cluster 'locl'", "did you mean 'local'?"),
                                 (("build", "locl"), "no cluster 'locl'", "did you mean 'local'?"),
                                 (("rollout", "advance", "helo"), "no workload 'helo'", "did you mean 'hello'?")]:
        run = easel("-C", str(repo), *args)
        assert run.code == 1 and "Traceback" not in run.text, run.text
        assert f"error[E901]: {message}\n  hint: {meant}\n" in run.err, run.text


def test_explaining_a_workload_whose_file_has_schema_errors_shows_them(repo: Path):
    build(repo, edit(WORKLOAD, ("  project: demo", "  projet: demo"), ("  environment: dev", "  enviroment: dev")))
    for wanted in ("hello", "demo/hello"):
        run = easel("-C", str(repo), "explain", wanted)
        assert run.code == 1 and "Traceback" not in run.text, run.text
        assert "no workload" not in run.text, run.text
        assert f"error[E901]: workload {wanted!r} was not loaded: 2 errors in {WORKLOAD}" in run.err, run.text
        found = re.findall(rf"^({re.escape(WORKLOAD)}:\d+:\d+): error\[E203\]", run.err, re.M)
        assert [_point(repo, where) for where in found] == ["projet: demo", "enviroment: dev"], run.text


def test_explain_as_json_holds_the_failed_documents_errors(repo: Path):
    build(repo, edit(WORKLOAD, ("  environment: dev", "  enviroment: dev")))
    run = easel("-C", str(repo), "explain", "hello", "--format", "json")
    report = json.loads(run.out)
    assert report["kind"] == "Failure" and report["errors"] == 2, run.out
    assert [(d["code"], d["file"], d["line"]) for d in report["diagnostics"]] == [
        ("E901", None, None), ("E203", WORKLOAD, 8)], run.out


def test_a_workload_whose_yaml_does_not_parse_shows_the_syntax_error(repo: Path):
    build(repo, edit(WORKLOAD, ('version: "^1.0"}', 'version: "^1.0"')))
    run = easel("-C", str(repo), "explain", "hello")
    assert run.code == 1 and "error[E101]" in run.err, run.text
    assert f"error[E901]: workload 'hello' was not loaded: 1 error in {WORKLOAD}" in run.err, run.text


def test_building_or_explaining_a_cluster_whose_file_failed_shows_why(repo: Path):
    build(repo, edit(CLUSTER, ("  source: byoc", "  sorce: byoc")))
    for args in (("build", "local"), ("explain", "--cluster", "local")):
        run = easel("-C", str(repo), *args)
        assert run.code == 1 and "Traceback" not in run.text and "no cluster" not in run.text, run.text
        where = re.search(rf"^({re.escape(CLUSTER)}:\d+:\d+): error\[E203\]: unknown field 'sorce'", run.err, re.M)
        assert where and _point(repo, where.group(1)) == "sorce: byoc", run.text
        assert f"error[E901]: cluster 'local' was not loaded: 1 error in {CLUSTER}" in run.err, run.text


# --- W113: a YAML file with nothing in it ---------------------------------------------------------------------

def test_an_empty_or_comment_only_yaml_file_is_a_warning_at_the_file(repo: Path):
    build(repo, {"workloads/demo/empty.yaml": "", "workloads/demo/notes.yaml": "# to do: the chat workload\n\n",
                 "workloads/demo/dashes.yaml": "---\n# nothing\n---\n"})
    for _ in range(2):  # the second run reads the others from easel's cache: the warning stays
        run = easel("-C", str(repo), "validate")
        assert run.code == 0, run.text  # a warning: the repository is fine
        warned = re.findall(r"^(\S+):1:1: warning\[W113\]: this file holds no document", run.err, re.M)
        assert warned == ["workloads/demo/dashes.yaml", "workloads/demo/empty.yaml", "workloads/demo/notes.yaml"]
    for name in ("empty", "notes", "dashes"):
        (repo / f"workloads/demo/{name}.yaml").unlink()
    assert "W113" not in easel("-C", str(repo), "validate").err


# --- E101: a flow mapping or sequence left open -----------------------------------------------------------------

def _before(repo: Path, where: str) -> str:
    """The text of the line at a printed `file:line:column` before that column."""
    file, line, column = where.split(":")
    return (repo / file).read_text().splitlines()[int(line) - 1][:int(column) - 1]


def test_an_unclosed_flow_mapping_points_where_its_brace_is_missing_and_where_it_opened(repo: Path):
    build(repo, edit(WORKLOAD, ('version: "^1.0"}', 'version: "^1.0"   # the range\n')))
    run = easel("-C", str(repo), "validate")
    assert run.code == 1 and "Traceback" not in run.text, run.text
    where, notes, _ = _reported(run, "E101")
    assert _before(repo, where) == '  profile: {name: hello, version: "^1.0"', run.text  # the `}` goes here
    assert "the flow mapping opened on line 9 is not closed: expected ',' or '}'" in run.err, run.text
    assert _point(repo, _note_at(notes, "opens here")).startswith("{name: hello"), run.text
    assert _point(repo, _note_at(notes, "read on to here")).startswith("parameters:"), run.text  # the symptom


def test_an_unclosed_flow_sequence_points_after_its_last_item_though_yaml_reads_on_into_the_next_key(repo: Path):
    build(repo, edit(ENV, ("projects: [demo]", "projects: [demo")))  # `demo placement` is read as one item
    run = easel("-C", str(repo), "validate")
    assert run.code == 1, run.text
    where, notes, _ = _reported(run, "E101")
    assert _before(repo, where) == "  projects: [demo", run.text
    assert _point(repo, _note_at(notes, "opens here")) == "[demo", run.text
    assert _point(repo, _note_at(notes, "read on to here")) == ":", run.text  # `placement:` on the next line
    assert error_count(run) == 1 and "unknown environment" not in run.err, run.text  # not said of the workload too


def test_an_unclosed_flow_mapping_at_the_end_of_a_file_says_the_file_ends_with_it_open(repo: Path):
    build(repo, {WORKLOAD: (INIT_REPO / WORKLOAD).read_text() + "  traits: {web: []\n"})
    run = easel("-C", str(repo), "validate")
    assert run.code == 1 and error_count(run) == 1, run.text
    where, notes, _ = _reported(run, "E101")
    assert _before(repo, where) == "  traits: {web: []", run.text
    assert _point(repo, _note_at(notes, "opens here")).startswith("{web"), run.text
    assert "the file ends here with it open" in notes[1], run.text


def test_a_yaml_error_inside_a_block_notes_where_the_block_starts(repo: Path):
    build(repo, edit(WORKLOAD, ("  environment: dev\n", "  environment: dev\n environment: prod\n")))
    run = easel("-C", str(repo), "validate")
    where, notes, _ = _reported(run, "E101")
    assert _point(repo, where).startswith("environment: prod"), run.text
    assert len(notes) == 1 and "starts here" in notes[0], run.text


# --- E703: too many GPUs, at the value that set the GPU count ---------------------------------------------------

LIMIT = "    maxGPUsPerWorkload: 8\n"


def _e703(repo: Path) -> tuple[str, list[str]]:
    run = easel("-C", str(repo), "validate")
    assert run.code == 1 and "Traceback" not in run.text and "error[E703]" in run.err, run.text
    where, notes, _ = _reported(run, "E703")
    assert _point(repo, _note_at(notes, "limit set here")) == "8", run.text
    return where, notes


def test_too_many_gpus_points_at_the_workloads_gpus_parameter(repo: Path):
    build(repo, gpu_repo(gpus=100, policy=LIMIT))
    where, notes = _e703(repo)
    assert where.startswith(f"{WORKLOAD}:") and _point(repo, where) == "100", notes  # `gpus: 100`
    asked = _note_at(notes, "GPUs asked here (the GPU count set by parameter 'gpus')")
    assert asked.startswith(f"{PROFILE}:") and _point(repo, asked).startswith("type: gpu"), notes  # the symptom


def test_too_many_gpus_set_by_an_environment_default_points_there(repo: Path):
    files = gpu_repo(gpus=1, policy=LIMIT)
    files[WORKLOAD] = files[WORKLOAD].replace("    gpus: 1\n", "")
    files[ENV] = files[ENV].replace("  defaults:\n", "  defaults:\n    parameters: {gpus: 12}\n")
    build(repo, files)
    where, _ = _e703(repo)
    assert where.startswith(f"{ENV}:") and _point(repo, where).startswith("12}"), where


def test_too_many_gpus_written_in_a_workloads_gpu_trait_points_at_its_count(repo: Path):
    files = gpu_repo(gpus=1, policy=LIMIT)
    files[WORKLOAD] += "  traits:\n    web: [{type: gpu, properties: {count: 16}}]\n"
    build(repo, files)
    where, notes = _e703(repo)
    assert where.startswith(f"{WORKLOAD}:") and _point(repo, where).startswith("16}"), where
    assert _point(repo, _note_at(notes, "GPUs asked here")).startswith("{type: gpu, properties: {count: 16}}")


def test_too_many_gpus_from_one_gpu_on_many_pods_points_at_the_replicas(repo: Path):
    files = gpu_repo(gpus=1, policy=LIMIT)
    files[WORKLOAD] += "    replicas: 10\n"
    build(repo, files)
    where, notes = _e703(repo)
    assert where.startswith(f"{WORKLOAD}:") and _point(repo, where) == "10", where
    assert _note_at(notes, "the number of pods set by parameter 'replicas'")


# --- E603: a node selector no booked device carries, at the trait use that added it ---------------------------

H100 = "{nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100}}"  # the GPU clusters' devices are L40S and A100


def _e603(repo: Path) -> tuple[str, list[str]]:
    run = easel("-C", str(repo), "validate")
    assert run.code == 1 and "Traceback" not in run.text and "error[E603]" in run.err, run.text
    assert "the pods select nvidia.com/gpu.product=NVIDIA-H100" in run.err, run.text
    where, notes, _ = _reported(run, "E603")
    asked = _note_at(notes, "the GPUs are asked here")
    assert asked.startswith(f"{PROFILE}:") and _point(repo, asked).startswith("type: gpu"), notes  # the symptom
    return where, notes


def test_a_workloads_node_placement_selecting_what_no_booked_device_carries_is_the_place_pointed_at(repo: Path):
    files = gpu_repo(gpus=1)
    files[WORKLOAD] += f"  traits:\n    web: [{{type: node-placement, properties: {H100}}}]\n"
    build(repo, files)
    where, _ = _e603(repo)
    assert where.startswith(f"{WORKLOAD}:") and _point(repo, where).startswith("NVIDIA-H100}"), where


def test_an_environments_node_placement_default_is_pointed_at_when_it_added_the_selector(repo: Path):
    files = gpu_repo(gpus=1)
    files[ENV] = files[ENV].replace("    traits:\n", f"    traits:\n      - {{type: node-placement, properties: {H100}}}\n")
    build(repo, files)
    where, _ = _e603(repo)
    assert where.startswith(f"{ENV}:") and _point(repo, where).startswith("NVIDIA-H100}"), where


# --- every schema error of a document in one run ----------------------------------------------------------------

def test_two_typos_in_one_document_are_reported_by_one_run(repo: Path):
    build(repo, edit(WORKLOAD, ("  environment: dev", "  enviroment: dev"), ("  profile: {name: hello,",
                                                                            "  profile: {nmae: hello,")))
    run = easel("-C", str(repo), "validate")
    assert run.code == 1 and error_count(run) == 2, run.text
    found = re.findall(rf"^({re.escape(WORKLOAD)}:\d+:\d+): error\[E203\]", run.err, re.M)
    assert [_point(repo, where)[:10] for where in found] == ["enviroment", "nmae: hell"], run.text


def test_a_document_that_fails_its_schema_still_has_its_traits_properties_checked(repo: Path):
    files = append(WORKLOAD, """
        traits:
          web:
            - {type: resources, properties: {memory: 32 gigs, cpus: 1}}
            - {type: replicas, properties: {count: "{{ params.replicas }}"}}
        """, indent=2)
    build(repo, {WORKLOAD: files[WORKLOAD].replace("  environment: dev", "  enviroment: dev")})
    run = easel("-C", str(repo), "validate")
    assert run.code == 1 and "Traceback" not in run.text, run.text
    assert "unknown field 'enviroment'" in run.err and error_count(run) == 3, run.text  # not the template
    found = dict(re.findall(rf"^({re.escape(WORKLOAD)}:\d+:\d+): error\[E407\]: trait 'resources': (.*)$", run.err,
                            re.M))
    assert sorted(_point(repo, where)[:7] for where in found) == ["32 gigs", "cpus: 1"], run.text
    assert any("'32 gigs' is not a Kubernetes quantity" in message for message in found.values()), run.text


def test_a_profile_that_fails_its_schema_has_its_components_properties_checked(repo: Path):
    build(repo, edit(PROFILE, ("  type: Application", "  type: Aplication"), ("port: 8080", "port: eighty")))
    run = easel("-C", str(repo), "validate")
    assert "error[E206]" in run.err and "'Aplication'" in run.err, run.text
    where = re.search(rf"^({re.escape(PROFILE)}:\d+:\d+): error\[E407\]: component 'web'", run.err, re.M)
    assert where and _point(repo, where.group(1)).startswith("eighty"), run.text


def test_the_schema_errors_of_one_document_are_capped(repo: Path):
    labels = "".join(f"    l{i}: [{i}]\n" for i in range(80))  # 80 labels that must be strings
    build(repo, edit(WORKLOAD, ("  name: hello\n", f"  name: hello\n  labels:\n{labels}")))
    run = easel("-C", str(repo), "validate")
    assert run.code == 1 and error_count(run) == 50, run.text
    assert "note: and 30 more schema errors, not shown" in run.err, run.text


def test_a_project_quota_exceeded_points_at_the_gpus_asked_with_a_note_at_the_quota(repo: Path):
    build(repo, gpu_repo(gpus=4, quota=3))
    run = easel("-C", str(repo), "validate")
    assert run.code == 1 and "error[E704]" in run.err, run.text
    where, notes, _ = _reported(run, "E704")
    assert where.startswith(f"{WORKLOAD}:") and _point(repo, where) == "4", run.text  # `gpus: 4`
    assert _point(repo, _note_at(notes, "quota set here")).startswith("3}"), run.text  # `quota: {gpus: 3}`
    assert _point(repo, _note_at(notes, "GPUs asked here")).startswith("type: gpu"), run.text
