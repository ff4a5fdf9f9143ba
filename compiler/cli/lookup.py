"""The workload or cluster a command names, looked up in a compile's result: a name that is not there says what
was likely meant (did you mean, as every other reference does), and a name whose document failed to load shows
that document's errors rather than "no workload"."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from compiler.diagnostics import Diagnostic
from compiler.diagnostics.errors import CommandError
from compiler.load import yamlio, yamlproblems
from compiler.model import Workload
from compiler.pipeline import Result
from compiler.schemas.check import did_you_mean


def workload(result: Result, wanted: str) -> Workload:
    """The Workload named `project/name` or `name`; else CommandError E901, with its load failure or a
    did-you-mean."""
    model = result.require_model()
    found, problem = model.find_workload(wanted)
    if found is not None:
        return found
    if problem and "ambiguous" in problem:
        raise CommandError("E901", problem)
    failed = _load_failure(result, "Workload", wanted)
    if failed is not None:
        raise failed
    names = [w.id for w in model.workloads.values()] if "/" in wanted \
        else sorted({w.meta.name for w in model.workloads.values()})
    raise CommandError("E901", f"no workload {wanted!r}", _hint(wanted, names))


def cluster(result: Result, wanted: str, known: Iterable[str]) -> None:
    """Nothing when `wanted` is one of the known clusters; else CommandError E901, with the cluster's load failure
    or a did-you-mean."""
    names = sorted(known)
    if wanted in names:
        return
    failed = _load_failure(result, "Cluster", wanted)
    if failed is not None:
        raise failed
    raise CommandError("E901", f"no cluster {wanted!r}", _hint(wanted, names))


def _hint(wanted: str, names: list[str]) -> str | bool:
    """did you mean the closest name (or, of a few, which there are); the code's own hint when there is none."""
    return did_you_mean(wanted, names) or True


def _load_failure(result: Result, kind: str, wanted: str) -> CommandError | None:
    """E901 holding the errors of the documents that declare the wanted workload or cluster and were left out
    for them (a schema error, a YAML error), when there are such documents."""
    places = _declaring(result, kind, wanted)
    causes = [d for d in result.diagnostics if d.location is not None and (d.location.file, d.location.doc) in places]
    errors = [d for d in causes if d.is_error]
    if not errors:
        return None
    files = sorted({file for file, _ in places if any(d.location and d.location.file == file for d in errors)})
    noun = kind.lower()
    return CommandError(
        "E901", f"{noun} {wanted!r} was not loaded: {_count(errors)} in {', '.join(files)}",
        f"fix {'them' if len(errors) > 1 else 'it'}; `easel validate` reports every error of the repository",
        causes=causes, texts=result.texts)


def _count(errors: list[Diagnostic]) -> str:
    return f"{len(errors)} error{'s' if len(errors) > 1 else ''}"


def _declaring(result: Result, kind: str, wanted: str) -> set[tuple[str, int]]:
    """(file, document index) of every document, among the files with errors, that declares a `kind` named
    wanted (a Workload as `project/name` or `name`); a document YAML could not read counts when its kind and name
    were read before it stopped."""
    project, _, name = wanted.rpartition("/")
    files = {d.location.file for d in result.diagnostics if d.is_error and d.location and d.location.file}
    found = set()
    for file in sorted(files):
        text = result.texts.get(file)
        if text is None:
            continue
        documents, problems = yamlio.parse(text)
        for document in documents:
            if _declares(document.data, kind, name, project):
                found.add((file, document.index))
        if problems:
            declared = yamlproblems.declared(text)
            found.update((file, problem.doc) for problem in problems if declared.get(problem.doc) == (kind, name))
    return found


def _declares(data: Any, kind: str, name: str, project: str) -> bool:
    if not isinstance(data, dict) or data.get("kind") != kind:
        return False
    metadata, spec = data.get("metadata"), data.get("spec")
    if not isinstance(metadata, dict) or metadata.get("name") != name:
        return False
    written = spec.get("project") if isinstance(spec, dict) else None
    return not project or not isinstance(written, str) or written == project  # a project not written: any
