"""The properties of the trait and component uses of a document that failed its kind's schema.

Such a document is left out of the model, so resolving never checks its uses' properties against their
definitions (E407), and a second mistake in them would wait for the next run. They are checked here, once every
definition is known, as far as that can be done before anything is merged or filled in: a value that is a template
passes (the parameters fill it in first), and a trait's use need not hold what its schema requires (the layers'
uses of one trait type merge first)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema.exceptions import ValidationError

from compiler.definitions import templating
from compiler.diagnostics import Diagnostic, Location, error
from compiler.model import Definition
from compiler.schemas import check as schemacheck

_MERGED_ONLY = ("required", "dependentRequired", "minProperties")  # what another layer's use may give


def problems(kind: str, data: dict[str, Any], loc: Location,
             definitions: Mapping[tuple[str, str], Definition]) -> list[Diagnostic]:
    """E407 for each property of the document's uses that its definition's schema refuses, whatever the
    document's other errors."""
    found = []
    for use_kind, use, at in _uses(kind, data, loc):
        name, properties = use.get("type"), use.get("properties")
        definition = definitions.get((use_kind, name)) if isinstance(name, str) else None
        if definition is None or not isinstance(properties, dict):
            continue
        skip = _skip_trait if use_kind == "trait" else _skip_template
        what = f"trait {name!r}" if use_kind == "trait" else f"component {use.get('name', name)!r}"  # as resolving
        for problem in schemacheck.check(schemacheck.validator(definition.parameters), properties,
                                         at.at("properties"), what=what, skip=skip):
            found.append(error("E407", problem.message, problem.location, problem.hint))
    return found


def _skip_template(err: ValidationError) -> bool:
    return isinstance(err.instance, str) and templating.has_template(err.instance)


def _skip_trait(err: ValidationError) -> bool:
    return _skip_template(err) or err.validator in _MERGED_ONLY


def _uses(kind: str, data: dict[str, Any], loc: Location) -> Iterator[tuple[str, dict[str, Any], Location]]:
    """("component" | "trait", the use as written, where) for every use the document holds, where its shape is
    what the schema has it."""
    spec = _mapping(data.get("spec"))
    at = loc.at("spec")
    if kind == "Workload":
        for component, traits in _mapping(spec.get("traits")).items():
            yield from _listed("trait", traits, at.at("traits", component))
    elif kind == "Environment":
        yield from _listed("trait", _mapping(spec.get("defaults")).get("traits"), at.at("defaults", "traits"))
    elif kind == "WorkloadProfile":
        components = spec.get("components")
        for index, component in enumerate(components if isinstance(components, list) else ()):
            if isinstance(component, dict):
                yield "component", component, at.at("components", index)
                yield from _listed("trait", component.get("traits"), at.at("components", index, "traits"))


def _listed(kind: str, items: Any, at: Location) -> Iterator[tuple[str, dict[str, Any], Location]]:
    for index, item in enumerate(items if isinstance(items, list) else ()):
        if isinstance(item, dict):
            yield kind, item, at.at(index)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
