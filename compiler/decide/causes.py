"""Where a resolved value came from, for a diagnostic to point at its cause rather than its symptom: a trait's
property followed back through the layers that merged it to the use that wrote it, and from a template that reads
a parameter (`count: "{{ params.gpus }}"`) on to where that parameter's value was set (the Workload's
`parameters.gpus`, an environment's or project's default, the profile's)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from compiler.decide.resolve.params import EffectiveParameter
from compiler.decide.resolve.types import ResolvedComponent, ResolvedWorkload
from compiler.diagnostics import Location
from compiler.model.gpu import GpuDemand

# `params.gpus`, `params["gpus"]`, `params['gpus']` in a template
_PARAMETER = re.compile(r"""\bparams\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*(?:'([^']*)'|"([^"]*)")\s*\])""")


def parameters_read(value: Any) -> list[str]:
    """The parameters a template string reads, in the order it names them (none for any other value)."""
    if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
        return []
    return [next(name for name in match.groups() if name is not None) for match in _PARAMETER.finditer(value)]


def behind(value: Any, loc: Location, parameters: Mapping[str, EffectiveParameter]) -> tuple[Location, str | None]:
    """Where the value written at loc came from: the place that set the first parameter its template reads, and
    that parameter's name; else loc itself (a literal), and None."""
    for name in parameters_read(value):
        if name in parameters:
            return parameters[name].loc, name
    return loc, None


def gpu_ask_cause(workload: ResolvedWorkload, demand: GpuDemand) -> tuple[Location, str | None]:
    """Where the size of a component's GPU ask was set, and what set it when that was a parameter ("the GPU count
    by parameter 'gpus'"): its count, or, when one GPU per pod is asked of several pods, the number of pods (the
    `replicas` trait's count, or the component's `replicas` property); the gpu trait itself when neither is
    found."""
    component = next((c for c in workload.components if c.name == demand.component), None)
    trait = next((t for t in component.traits if t.loc == demand.loc and t.output.gpu is not None), None) \
        if component is not None else None
    if component is None or trait is None:
        return demand.loc, None
    if demand.ask.count == 1 and demand.replicas > 1:
        replicas = _replicas_written(workload, component)
        if replicas is not None:
            return _said(behind(*replicas, workload.parameters), "the number of pods")
    count = trait.written("count")
    return _said(behind(*count, workload.parameters), "the GPU count") if count is not None else (demand.loc, None)


def _said(found: tuple[Location, str | None], what: str) -> tuple[Location, str | None]:
    loc, name = found
    return loc, f"{what} set by parameter {name!r}" if name else None


def _replicas_written(workload: ResolvedWorkload, component: ResolvedComponent) -> tuple[Any, Location] | None:
    """Where the component's number of pods is written: its replicas trait's count, else its `replicas`."""
    trait = next((t for t in reversed(component.traits) if t.output.replicas is not None), None)
    if trait is not None:
        return trait.written("count")
    written = next((c for c in workload.profile.components if c.name == component.name), None)
    if written is not None and "replicas" in written.properties:
        return written.properties["replicas"], written.loc.at("properties", "replicas")
    return None
