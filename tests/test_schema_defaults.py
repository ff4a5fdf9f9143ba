"""A document field's default is written once, as its schema's `default`: validate fills it in, so changing it
in the schema changes what easel compiles; every default is a value its own schema admits; and the filling walks
mappings and lists without ever replacing what a document says."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from builders import byoc_cluster
from scenario import TEAM_IN_DEV, compile_files, one_component_app

from compiler import schemas
from compiler.diagnostics import Diagnostics, Location
from compiler.load import DEFAULT_INPUTS, SETTINGS_FILE
from compiler.model import Settings
from compiler.schemas import check as schemacheck
from compiler.schemas.defaults import defaults_of, with_defaults
from compiler.validate import schema as kind_schemas
from compiler.validate.settings import settings

APP = {**TEAM_IN_DEV, **byoc_cluster(), **one_component_app("""    - name: web
      type: manifests
      properties: {files: []}""")}


@pytest.fixture
def schema_change(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """monkeypatch, with the schemas validate built from the unchanged ones forgotten before and after."""
    kind_schemas.schema.cache_clear()
    kind_schemas.validator.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    kind_schemas.schema.cache_clear()
    kind_schemas.validator.cache_clear()


def test_a_default_changed_in_the_schema_changes_what_is_compiled(schema_change: pytest.MonkeyPatch) -> None:
    before = compile_files(APP)
    assert "clusters/c/namespaces/team-w.yaml" in before.files
    assert "branch: main" in before.files["bootstrap/flux/c.yaml"]
    namespace = schemas.SPECS["Environment"]["properties"]["namespace"]["properties"]
    schema_change.setitem(namespace["strategy"], "default", "project")
    schema_change.setitem(schemas.SPECS["Settings"]["properties"]["gitops"]["properties"]["branch"], "default",
                          "trunk")
    kind_schemas.schema.cache_clear()
    kind_schemas.validator.cache_clear()
    after = compile_files(APP)
    assert not [d for d in after.diagnostics if d.is_error]
    assert "clusters/c/namespaces/team.yaml" in after.files
    assert "clusters/c/namespaces/team-w.yaml" not in after.files
    assert "branch: trunk" in after.files["bootstrap/flux/c.yaml"]


def _defaults(schema: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, schema) of every schema below schema that has a `default`."""
    if isinstance(schema, dict):
        if "default" in schema and isinstance(schema.get("description"), str):
            yield path, schema
        for key, value in schema.items():
            yield from _defaults(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from _defaults(value, f"{path}/{index}")


DEFAULTED = [pytest.param(schema, id=f"{kind}{where}")
             for kind in schemas.KINDS for where, schema in _defaults(schemas.document_schema(kind))]


def test_the_schemas_give_defaults() -> None:
    assert len(DEFAULTED) >= 20


@pytest.mark.parametrize("schema", DEFAULTED)
def test_every_default_is_a_value_its_schema_admits(schema: dict[str, Any]) -> None:
    checker = schemacheck.validator({k: v for k, v in schema.items() if k != "default"})
    problems = [error.message for error in checker.iter_errors(schema["default"])]
    assert not problems
    # and filled in, a defaulted mapping's own fields' defaults keep it valid
    assert not [e.message for e in checker.iter_errors(with_defaults(schema, schema["default"]))]


def test_settings_made_by_hand_and_the_load_stage_take_the_schemas_defaults() -> None:
    """Two copies the stage order leaves: a Settings made without easel.yaml's schema (tests), and the input
    folders load reads before any schema is known."""
    assert settings(None, Diagnostics()) == Settings(loc=Location(SETTINGS_FILE))
    assert tuple(schemas.SPECS["Settings"]["properties"]["inputs"]["default"]) == DEFAULT_INPUTS


SCHEMA = {
    "type": "object",
    "properties": {
        "kind": {"type": "string", "default": "plain"},
        "count": {"type": ["integer", "null"], "default": 1},
        "nested": {"type": "object", "default": {}, "properties": {
            "depth": {"type": "integer", "default": 2},
            "deeper": {"type": "object", "properties": {"flag": {"type": "boolean", "default": False}}},
        }},
        "optional": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "size": {"type": "integer", "default": 3}}},
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "weight": {"type": "integer", "default": 1}}}},
        "byName": {"type": "object", "additionalProperties": {"type": "object", "properties": {
            "mode": {"type": "string", "default": "on"}}}},
        "either": {"anyOf": [{"type": "string"}, {"type": "object", "properties": {
            "level": {"type": "string", "default": "low"}}}]},
        "free": {"type": "object"},
    },
}


def test_missing_fields_get_their_defaults_at_every_depth() -> None:
    filled = with_defaults(SCHEMA, {"nested": {"deeper": {}}, "items": [{}, {"weight": 5}],
                                    "byName": {"a": {}, "b": {"mode": "off"}}, "optional": {"name": "x"}})
    assert filled == {
        "kind": "plain", "count": 1,
        "nested": {"depth": 2, "deeper": {"flag": False}},
        "items": [{"weight": 1}, {"weight": 5}],
        "byName": {"a": {"mode": "on"}, "b": {"mode": "off"}},
        "optional": {"name": "x", "size": 3},
    }


def test_an_absent_mapping_is_filled_only_when_it_has_a_default_itself() -> None:
    filled = with_defaults(SCHEMA, {})
    assert filled == {"kind": "plain", "count": 1, "nested": {"depth": 2}}  # not `optional`: it needs a name
    assert defaults_of(SCHEMA["properties"]["optional"]) == {"size": 3}


def test_what_a_document_says_is_never_replaced() -> None:
    data = {"kind": "special", "count": None, "nested": {"depth": 0}, "free": {"kind": 7}, "either": {}}
    filled = with_defaults(SCHEMA, data)
    assert filled["kind"] == "special" and filled["count"] is None and filled["nested"] == {"depth": 0}
    assert filled["free"] == {"kind": 7}  # no properties: nothing below is known
    assert filled["either"] == {}  # which branch holds is the data's to say: a branch's defaults are not filled


def test_the_data_read_is_left_as_it_was() -> None:
    """The cache keeps parsed files, and a profile's digest is of its content: filling works on a copy."""
    data = {"nested": {"deeper": {}}, "items": [{}]}
    with_defaults(SCHEMA, data)
    assert data == {"nested": {"deeper": {}}, "items": [{}]}
    first, second = with_defaults(SCHEMA, {}), with_defaults(SCHEMA, {})
    first["nested"]["depth"] = 9
    assert second["nested"]["depth"] == 2  # each document its own copy of a default
