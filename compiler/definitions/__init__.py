"""The platform team's own ComponentDefinitions and TraitDefinitions: run a definition's Jinja2 template in the
sandbox and read what it rendered. A template that uses `cluster` is run once per cluster (by the plan stage).
The objects rendered have strings in their string fields (kube/strings.py): `nnodes: {{ params.nodes }}` in a
ConfigMap's data is "2", as the API server wants it."""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

from compiler.definitions import templating
from compiler.diagnostics import Diagnostic, Location, Note, Subject, error
from compiler.model import Definition
from compiler.model.parts import ComponentOutput, Patch, RenderContext, TraitOutput

TRAIT_SHAPE = ("a trait template renders `patches: [{target: {kind, name}, patch: {...}}]` (without target: the "
               "component's workloads) and/or `objects: [...]`")


@cache
def _uses_cluster(template: str) -> bool:
    return templating.uses_variable(template, "cluster")


def needs_cluster(definition: Definition) -> bool:
    return bool(definition.template) and _uses_cluster(definition.template)


def _render(definition: Definition, props: dict[str, Any], ctx: RenderContext, subject: Subject,
            loc: Location) -> tuple[list[Any] | None, list[Diagnostic]]:
    # `parameters` as documented; `params` and `properties` too, the names profiles and components use
    variables = {"parameters": props, "params": props, "properties": props, **ctx.template_vars()}
    try:
        return templating.render_yaml(definition.template or "", variables), []
    except templating.TemplateProblem as problem:
        if ctx.cluster:
            subject = dataclasses.replace(subject, cluster=ctx.cluster["name"])
        return None, [error(problem.code, f"{definition.kind} definition {definition.meta.name!r}: {problem.message}",
                            definition.meta.loc.at("spec", "template").in_text(problem.line),
                            notes=[Note("used here", loc)], subject=subject)]


def _at_cluster(ctx: RenderContext, cluster: dict[str, Any] | None) -> RenderContext:
    return ctx if cluster is None else dataclasses.replace(ctx, cluster=cluster)


def run_component(definition: Definition, props: dict[str, Any], ctx: RenderContext, subject: Subject,
                  loc: Location, cluster: dict[str, Any] | None = None
                  ) -> tuple[ComponentOutput | None, list[Diagnostic]]:
    rendered, problems = _render(definition, props, _at_cluster(ctx, cluster), subject, loc)
    if rendered is None:
        return None, problems
    objects = [o for doc in rendered for o in (doc if isinstance(doc, list) else [doc])]
    for index, obj in enumerate(objects):
        if not is_object(obj):
            return None, [error(
                "E408", f"ComponentDefinition {definition.meta.name!r} rendered item {index} without apiVersion, "
                "kind and metadata.name", definition.meta.loc.at("spec", "template"),
                "a component template renders Kubernetes objects: a YAML list, or documents separated by '---'",
                subject=subject)]
    return ComponentOutput(objects=objects, pod_templates=definition.pod_templates), []


def run_trait(definition: Definition, props: dict[str, Any], ctx: RenderContext, subject: Subject, loc: Location,
              cluster: dict[str, Any] | None = None) -> tuple[TraitOutput | None, list[Diagnostic]]:
    rendered, problems = _render(definition, props, _at_cluster(ctx, cluster), subject, loc)
    if rendered is None:
        return None, problems
    document = rendered[0] if len(rendered) == 1 else None
    problem = "more than one YAML document" if len(rendered) > 1 else trait_shape_problem(document)
    if problem:
        return None, [error("E408", f"TraitDefinition {definition.meta.name!r} rendered {problem}",
                            definition.meta.loc.at("spec", "template"), TRAIT_SHAPE, subject=subject)]
    document = document or {}
    patches = []
    for entry in document.get("patches") or ():
        target = entry.get("target") or {}
        patches.append(Patch(entry["patch"], target.get("kind"), target.get("name"), target.get("apiVersion")))
    objects = list(document.get("objects") or ())
    return TraitOutput(patches=patches, objects=objects), []


def is_object(obj: Any) -> bool:
    return (isinstance(obj, dict) and isinstance(obj.get("apiVersion"), str) and isinstance(obj.get("kind"), str)
            and isinstance(obj.get("metadata"), dict) and isinstance(obj["metadata"].get("name"), str))


def trait_shape_problem(rendered: Any) -> str | None:
    if rendered is None:
        return None
    if not isinstance(rendered, dict) or set(rendered) - {"patches", "objects"}:
        return "something other than a mapping of `patches` and `objects`"
    for patch in rendered.get("patches") or ():
        target = patch.get("target", {}) if isinstance(patch, dict) else None
        if not (isinstance(target, dict) and isinstance(patch.get("patch"), dict)
                and all(isinstance(target.get(k), str) for k in ("kind", "name", "apiVersion") if k in target)):
            return "a patch that is not `{target: {kind, name}, patch: {...}}`"
    for obj in rendered.get("objects") or ():
        if not is_object(obj):
            return "an object without apiVersion, kind and metadata.name"
    return None
