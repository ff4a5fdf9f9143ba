"""Parameter layers (SPEC §4): profile default < easel.yaml < Project < Environment < Workload.

A layer may lock a value; a higher layer that sets it is an error naming where the lock was set. The result
says, for every parameter, which layer set its value, so that `easel explain` can show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compiler.diagnostics import Diagnostic, Location, Note, error
from compiler.model import Environment, ParamSetting, Project, Settings, WorkloadProfile
from compiler.schemas import check as schemacheck


@dataclass(frozen=True)
class EffectiveParameter:
    name: str
    value: Any
    layer: str  # "profile", "easel.yaml", "project", "environment" or "workload"
    loc: Location
    locked: bool = False


def effective(profile: WorkloadProfile, settings: Settings, project: Project | None, environment: Environment | None,
              asked: dict[str, ParamSetting], asks_at: Location
              ) -> tuple[dict[str, EffectiveParameter], list[Diagnostic]]:
    """asked: the workload's own parameters; asks_at: where a missing value is reported."""
    problems: list[Diagnostic] = []
    declared = profile.parameters
    where = f"profile {profile.meta.name} {profile.version}"
    values: dict[str, EffectiveParameter] = {}
    for name, schema in declared.items():
        if "default" in schema:
            values[name] = EffectiveParameter(name, schema["default"], "profile",
                                              profile.meta.loc.at("spec", "parameters", name, "default"))
    layers: list[tuple[str, dict[str, ParamSetting]]] = [
        ("easel.yaml", settings.parameters),
        ("project", project.parameters if project else {}),
        ("environment", environment.parameters if environment else {}),
        ("workload", asked),
    ]
    for layer, settings_of_layer in layers:
        for name, setting in settings_of_layer.items():
            if name not in declared:
                if layer == "workload":  # lower layers are shared by many profiles: they may set more
                    hint = schemacheck.did_you_mean(name, declared) if declared else "this profile takes no parameters"
                    problems.append(error("E401", f"{where} has no parameter {name!r}", setting.loc.as_key(), hint))
                continue
            current = values.get(name)
            if current is not None and current.locked:
                problems.append(error(
                    "E403", f"parameter {name!r} is locked by the {current.layer} layer and cannot be set here",
                    setting.loc, notes=[Note(f"locked to {current.value!r} here", current.loc)]))
                continue
            values[name] = EffectiveParameter(name, setting.value, layer, setting.loc, setting.locked)
    for name, schema in declared.items():
        if name not in values:
            problems.append(error("E402", f"parameter {name!r} of {where} has no value",
                                  asks_at,
                                  f"set `parameters: {{{name}: ...}}` in the Workload"))
            continue
        checker = _validator(schema)
        value = values[name]
        for problem in schemacheck.check(checker, value.value, value.loc, what=f"parameter {name!r}"):
            problems.append(error("E404", problem.message.replace(" document ", " value "), problem.location,
                                  problem.hint))
    return dict(sorted(values.items())), problems


_VALIDATORS: dict[int, Any] = {}


def _validator(schema: dict[str, Any]):
    key = id(schema)
    found = _VALIDATORS.get(key)
    if found is None or found[0] is not schema:
        found = (schema, schemacheck.validator({k: v for k, v in schema.items() if k != "default"}))
        _VALIDATORS[key] = found
    return found[1]
