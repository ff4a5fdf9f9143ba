"""The definitions easel ships: usable in every repository without a file."""

from __future__ import annotations

from compiler.definitions.builtins import components, traits
from compiler.diagnostics import Location
from compiler.model import Definition, Meta

_BUILTIN = Location("<built-in>")


def definitions() -> dict[tuple[str, str], Definition]:
    found: dict[tuple[str, str], Definition] = {}
    for kind, module in (("component", components), ("trait", traits)):
        for name, schema in module.SCHEMAS.items():
            meta = Meta(name=name, loc=_BUILTIN, description=module.DESCRIPTIONS[name])
            found[(kind, name)] = Definition(meta=meta, kind=kind, parameters=schema, template=None, builtin=True)
    return found


COMPONENT_RENDERERS = components.RENDERERS
TRAIT_RENDERERS = traits.RENDERERS
