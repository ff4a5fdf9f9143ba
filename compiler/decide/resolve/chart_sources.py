"""Where a chart component's chart comes from: a Repository the config repository declares (a Git one names the
chart by its folder, at the Repository's ref), or an in-house chart folder easel read."""

from __future__ import annotations

import dataclasses

from compiler.diagnostics import Diagnostic, Note, error
from compiler.model import Component, Model
from compiler.model.parts import ComponentOutput
from compiler.schemas import check as schemacheck


def sourced(model: Model, component: Component, output: ComponentOutput, problems: list[Diagnostic]
            ) -> ComponentOutput | None:
    """The component's output with its chart's source checked (and a Git chart's version set); None, with the
    problem added, when its source is unknown or named the wrong way."""
    if not _repository_known(model, component, output, problems):
        return None
    return _at_git_ref(model, component, output, problems)


def _repository_known(model: Model, component: Component, output: ComponentOutput, problems: list[Diagnostic]
                      ) -> bool:
    """A chart's Repository is one the repository declares; an in-house chart's folder is one easel read."""
    if output.helm is not None and output.helm.path is not None:
        if output.helm.path in model.in_house:
            return True
        problems.append(error(
            "E302", f"no in-house chart at {output.helm.path!r}", component.loc.at("properties", "path"),
            f"an in-house chart is a folder holding Chart.yaml under charts.path ({model.settings.charts_path}"
            f"); easel found: {', '.join(model.in_house) or 'none'}"))
        return False
    if output.helm is None or output.helm.repository in model.repositories:
        return True
    repository = output.helm.repository
    problems.append(error("E302", f"unknown repository {repository!r}",
                               component.loc.at("properties", "repository"),
                               schemacheck.did_you_mean(repository, model.repositories)))
    return False

def _at_git_ref(model: Model, component: Component, output: ComponentOutput, problems: list[Diagnostic]
                ) -> ComponentOutput | None:
    """A chart of a Git Repository is named by its folder there, and its version is the Repository's ref; a
    chart of a Helm or OCI repository by its name and version."""
    helm = output.helm
    repository = model.repositories.get(helm.repository) if helm is not None else None
    if helm is None or repository is None:
        return output
    if repository.type != "git" and helm.git_path is not None:
        problems.append(error(
            "E302", f"repository {repository.meta.name!r} is a {repository.type} repository: its charts are named "
            "by `chart` and `version`", component.loc.at("properties", "path"),
            "`repository` with `path` names a chart of a Git Repository (type: git, with its ref)",
            notes=[Note("the repository", repository.meta.loc.at("spec", "type"))]))
        return None
    if repository.type == "git" and helm.git_path is None:
        problems.append(error(
            "E302", f"repository {repository.meta.name!r} is a Git repository: a chart of it is named by its "
            "folder there (`path`), at the Repository's ref", component.loc.at("properties", "chart"),
            f"write `path: <the chart's folder in {repository.url}>` instead of `chart` and `version`",
            notes=[Note("the repository", repository.meta.loc.at("spec", "type"))]))
        return None
    if helm.git_path is None or repository.ref is None:
        return output
    return dataclasses.replace(output, helm=dataclasses.replace(helm, version=repository.ref[1]))
