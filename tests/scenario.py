"""Build small repositories in memory and compile them without the CLI: for unit tests of the stages."""

from __future__ import annotations

import fidelity
import ordering
from builders import docs

from compiler.commands.compiling import validate
from compiler.load.source import MemorySource
from compiler.pipeline import Request, Result, compile_repository

# A project `team` that the environment `dev` admits with no placement rules, and a Helm repository `charts`:
# the common ground of scenarios that test one feature on a single cluster.
TEAM_IN_DEV = {
    "environments/env.yaml": docs("""
kind: Project
metadata: {name: team}
spec: {}
""", """
kind: Environment
metadata: {name: dev}
spec: {projects: ["*"]}
"""),
    "profiles/repos.yaml": docs("""
kind: Repository
metadata: {name: charts}
spec: {type: helm, url: https://charts.example.com}
"""),
}


def one_component_app(component: str) -> dict[str, str]:
    """A profile `app` 1.0.0 of one component (given as the YAML of its list item, indented for `components:`)
    and a Workload `w` of project `team` in environment `dev` that runs it."""
    return {
        "profiles/app.yaml": docs(f"""
kind: WorkloadProfile
metadata: {{name: app}}
spec:
  version: 1.0.0
  components:
{component}
"""),
        "workloads/w.yaml": docs("""
kind: Workload
metadata: {name: w}
spec: {project: team, environment: dev, profile: {name: app}}
"""),
    }


def replaced(files: dict[str, str], path: str, old: str, new: str) -> dict[str, str]:
    """A copy of files with one exact piece of text in one file changed; fails loudly when the text is missing."""
    assert old in files[path], f"{old!r} not in {path}"
    return {**files, path: files[path].replace(old, new)}


def compile_files(files: dict[str, str], render: bool = True) -> Result:
    """Compile in memory; a compile that renders must request exactly what it booked (the fidelity check), and
    `easel validate` must say what it says of a repository with problems (SPEC §3)."""
    result = compile_repository(MemorySource(files), Request(last_stage="render" if render else "decide"))
    if render and list(result.diagnostics):  # a repository with problems: validate must find the same ones
        _assert_validate_agrees(files, result)
    if result.files is not None:
        problems = fidelity.check(result)
        assert not problems, "what easel booked is not what the pods request:\n" + "\n".join(problems)
        problems = ordering.check(result)
        assert not problems, "a tree does not apply in order on an empty cluster:\n" + "\n".join(problems)
        _assert_fixed_point(files, result)
    return result


def _assert_validate_agrees(files: dict[str, str], compiled: Result) -> None:
    """`easel validate` reports exactly the diagnostics of the compile: whatever compile rejects, validate
    rejects; and it warns alike."""
    validated, summary = validate(MemorySource(files))
    assert list(validated.diagnostics) == list(compiled.diagnostics), "validate and compile disagree"
    assert (summary is None) == compiled.diagnostics.has_errors


def _assert_fixed_point(files: dict[str, str], result: Result) -> None:
    """Compiling again with the easel.lock this compile wrote decides, warns and renders the same: what lets the
    cache keep a run under the lock it leaves (cache.py)."""
    again = compile_repository(MemorySource({**files, "easel.lock": result.lock_text}))
    assert again.lock_text == result.lock_text
    assert again.files == result.files
    assert list(again.diagnostics) == list(result.diagnostics)


def codes(result: Result) -> list[str]:
    return sorted(d.code for d in result.diagnostics if d.is_error)


def chosen(result: Result) -> dict[str, list[str]]:
    return {w: list(d.clusters) for w, d in result.decisions.workloads.items() if d.placement and d.placement.placed}


def decision(result: Result, workload_id: str | None = None):
    """What the compile decided for a workload (by default the first one)."""
    workloads = result.decisions.workloads
    return workloads[workload_id] if workload_id else next(iter(workloads.values()))
