"""The built-ins' fields that later stages read, typed: built once, from a component's or trait's properties as
resolve renders them (`{{ params.x }}` filled in, checked against the schema), with the defaults of the built-in's
own schema. Stages after validate read these, never a built-in property from a dict; the properties of user
definitions stay free-form."""

from __future__ import annotations

from typing import Any

from compiler.definitions.builtins import components, traits
from compiler.model.parts import ChartTarget, ExternalSource, NodePlacement, ValuesMapping
from compiler.schemas.defaults import with_defaults

# The built-in components whose objects easel cannot see: Helm or kustomize renders them.
EXTERNAL_COMPONENTS = ("helm-chart", "kustomize")


def external_source(component_type: str, props: dict[str, Any]) -> ExternalSource | None:
    """The fields of a helm-chart or kustomize component (None for any other type)."""
    if component_type not in EXTERNAL_COMPONENTS:
        return None
    props = with_defaults(components.SCHEMAS[component_type], props)
    target = props.get("target")
    mapping: dict[str, str | list[str]] = props.get("traitValues") or {}
    return ExternalSource(
        target=ChartTarget(target["kind"], target.get("name")) if target else None,
        container=props.get("container"),
        crds=tuple(props.get("crds") or ()),
        trait_values=tuple(ValuesMapping(key, (paths,) if isinstance(paths, str) else tuple(paths),
                                         listed=not isinstance(paths, str)) for key, paths in mapping.items()),
        image_values=tuple(props.get("imageValues") or ()))


def node_placement(trait_type: str, props: dict[str, Any]) -> NodePlacement | None:
    """The node-placement trait's node selector and tolerations (None for any other trait)."""
    if trait_type != "node-placement":
        return None
    props = with_defaults(traits.SCHEMAS[trait_type], props)
    return NodePlacement(node_selector=dict(props.get("nodeSelector") or {}),
                         tolerations=tuple(props.get("tolerations") or ()))


def manifest_files(props: dict[str, Any]) -> tuple[Any, ...]:
    """The `files` of a manifests component (as written, a path may still be a template)."""
    return tuple(with_defaults(components.SCHEMAS["manifests"], props).get("files") or ())
