"""Stage 2, validate: check every raw document against its kind's schema, build the typed Model, and check the
references between documents (unknown names, duplicates, missing files).

    schema.py       each kind's schema and its compiled validator
    defaults.py     the schema's defaults, filled into a document once it passed its schema
    settings.py     easel.yaml
    documents.py    each document of an easel kind, into the model
    references.py   what the documents name, once all are in

A document that fails its schema is left out of the model; references to it are not reported again, so one
mistake gives one error.
"""

from __future__ import annotations

from compiler.diagnostics import Diagnostics
from compiler.load import RawDocument, RawRepo, yamlproblems
from compiler.model import Model
from compiler.record.decisions import Decisions
from compiler.validate import charts
from compiler.validate.documents import Builder
from compiler.validate.settings import definition_schema, parameter_settings, settings

__all__ = ["check_recorded_profiles", "definition_schema", "parameter_settings", "validate"]


def validate(raw: RawRepo) -> tuple[Model, Diagnostics, set[tuple[str, int]]]:
    """The model, the problems, and the (file, index) of every document that passed its kind's schema."""
    diagnostics = Diagnostics()
    model = Model(settings=settings(raw.settings, diagnostics))
    builder = Builder(model, diagnostics)
    builder.broken |= _unread(raw)
    foreign: list[RawDocument] = []
    for doc in raw.documents:
        builder.add(doc, foreign)
    builder.finish(raw, foreign)
    model.charts = charts.archives(raw.charts_folder, raw.charts, diagnostics)
    model.in_house = charts.in_house(raw.charts, diagnostics)
    return model, diagnostics, builder.checked


_UNREAD = ("E101", "E103", "E107")  # a document YAML stopped reading (load/__init__.py's codes)


def _unread(raw: RawRepo) -> set[tuple[str, str]]:
    """(kind, name) of each document YAML could not read, as far as it read them: what refers to one of them is
    not reported as unknown too (one mistake, one error)."""
    found = set()
    for file, doc in {(d.location.file, d.location.doc) for d in raw.diagnostics
                      if d.code in _UNREAD and d.location is not None and d.location.file in raw.texts}:
        kind, name = yamlproblems.declared(raw.texts[file]).get(doc, (None, None))
        if isinstance(kind, str) and isinstance(name, str):
            found.add((kind, name))
    return found


def check_recorded_profiles(model: Model, previous: Decisions) -> Diagnostics:
    """A published profile version must not change: its digest must still be the one easel.lock recorded; nor
    may a chart archive (validate/charts.py)."""
    diagnostics = charts.check_pins(model, previous)
    for (name, version), recorded in sorted(previous.digests.items()):
        profile = model.profiles.get(name, {}).get(version)
        if profile is not None and profile.digest != recorded:
            diagnostics.error("E504", f"profile {name} {version} changed after easel.lock recorded it",
                              profile.meta.loc.at("spec", "version"))
    return diagnostics
