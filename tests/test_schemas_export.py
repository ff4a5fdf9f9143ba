"""The schemas editors get (`easel schema`, `easel schema --out`, `easel init`): standard Draft 2020-12 only, a
description on every field, patterns for the custom formats that agree with easel's own parsers, and the
reference docs generated from them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml
from conftest import ROOT, easel
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from compiler import schemas
from compiler.commands import editor, schemadocs
from compiler.load.source import DirectorySource
from compiler.model import quantity, valuespath, versions
from compiler.schemas import blocks

# Draft 2020-12's vocabularies (core, applicator, unevaluated, validation, meta-data, format-annotation, content)
KEYWORDS_2020_12 = {
    "$schema", "$id", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary", "$comment", "$defs",
    "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas", "prefixItems", "items",
    "contains", "properties", "patternProperties", "additionalProperties", "propertyNames",
    "unevaluatedItems", "unevaluatedProperties",
    "type", "const", "enum", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
    "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains", "minContains",
    "maxProperties", "minProperties", "required", "dependentRequired",
    "title", "description", "default", "deprecated", "readOnly", "writeOnly", "examples",
    "format", "contentEncoding", "contentMediaType", "contentSchema",
}
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_VALUES = ("items", "additionalProperties", "propertyNames", "not", "if", "then", "else", "contains",
                  "unevaluatedItems", "unevaluatedProperties", "contentSchema")


def subschemas(schema, path="#"):
    """(path, schema) of schema and of every schema inside it, by the keywords that hold schemas."""
    yield path, schema
    if not isinstance(schema, dict):
        return
    for key in _SCHEMA_MAPS:
        for name, sub in (schema.get(key) or {}).items():
            yield from subschemas(sub, f"{path}/{key}/{name}")
    for key in _SCHEMA_LISTS:
        for index, sub in enumerate(schema.get(key) or ()):
            yield from subschemas(sub, f"{path}/{key}/{index}")
    for key in _SCHEMA_VALUES:
        if key in schema:
            yield from subschemas(schema[key], f"{path}/{key}")


def fields(schema):
    """(path, schema) of every field: each entry of a `properties`."""
    for path, sub in subschemas(schema):
        if isinstance(sub, dict) and "/if" not in path:  # an `if` tests fields, it declares none
            for name, field in (sub.get("properties") or {}).items():
                yield f"{path}/properties/{name}", field


EXPORTED = {name: content for name, content in editor.schema_files().items() if name != editor.CATALOG}


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_each_exported_schema_is_standard_draft_2020_12(name):
    schema = EXPORTED[name]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == blocks.DIALECT
    unknown = [f"{path}: {key}" for path, sub in subschemas(schema) if isinstance(sub, dict)
               for key in sub if key not in KEYWORDS_2020_12]
    assert not unknown, f"{name} has keywords outside Draft 2020-12: {unknown}"
    assert blocks.NAME_MARKER not in json.dumps(schema)


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_every_field_has_a_short_description(name):
    problems = [path for path, field in fields(EXPORTED[name])
                if not (isinstance(field.get("description"), str) and field["description"].endswith(".")
                        and 10 <= len(field["description"]) <= 200 and field["description"][0].isupper())]
    assert not problems, f"{name}: fields without a one-sentence description: {problems}"
    assert EXPORTED[name]["description"]


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_every_custom_format_has_its_pattern(name):
    for path, sub in subschemas(EXPORTED[name]):
        if isinstance(sub, dict) and "format" in sub:
            assert sub.get("pattern") == blocks.FORMAT_PATTERNS[sub["format"]], path


def _documents(root):
    for folder in ("profiles", "environments", "clusters", "workloads"):
        for path in sorted((root / folder).rglob("*.y*ml")):
            for doc in yaml.safe_load_all(path.read_text()):
                if doc:
                    yield path, doc


def test_the_example_and_the_scaffold_pass_the_exported_schemas():
    """The patterns editors check are never stricter than easel: every document of the example passes."""
    validator = Draft202012Validator(editor.all_documents_schema())
    checked = 0
    for root in (ROOT, ROOT / "compiler" / "commands" / "init_repo"):
        for path, doc in _documents(root):
            errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
            assert not errors, f"{path}: {errors}"
            checked += 1
        settings_doc = yaml.safe_load((root / "easel.yaml").read_text())
        assert not list(Draft202012Validator(editor.kind_schema("Settings")).iter_errors(settings_doc))
    assert checked > 50


def test_the_exported_schemas_catch_what_easel_catches():
    workload = {"apiVersion": blocks.API_VERSION, "kind": "Workload", "metadata": {"name": "w"},
                "spec": {"projct": "x", "environment": "dev", "profile": {"name": "p", "version": "gigs"}}}
    device = {"apiVersion": blocks.API_VERSION, "kind": "Device", "metadata": {"name": "d"},
              "spec": {"cluster": "c", "facts": {"memory": "32 gigs"}}}
    validator = Draft202012Validator(editor.all_documents_schema())
    problems = {(tuple(e.absolute_path), e.validator) for e in validator.iter_errors(workload)}
    assert (("spec",), "additionalProperties") in problems and (("spec", "profile", "version"), "pattern") in problems
    assert [tuple(e.absolute_path) for e in validator.iter_errors(device)] == [("spec", "facts", "memory")]
    # a plain Kubernetes object of a `manifests` file in an input folder is left alone
    assert validator.is_valid({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}})
    assert not validator.is_valid({"apiVersion": "easel.dev/v1alpha1", "kind": "Worklaod"})


def _workload(traits):
    return {"apiVersion": blocks.API_VERSION, "kind": "Workload", "metadata": {"name": "w"},
            "spec": {"project": "p", "environment": "dev", "profile": {"name": "hello"}, "traits": {"web": traits}}}


def _profile(properties, traits):
    return {"apiVersion": blocks.API_VERSION, "kind": "WorkloadProfile", "metadata": {"name": "hello"},
            "spec": {"version": "1.0.0", "parameters": {"replicas": {"type": "integer", "default": 1}},
                     "components": [{"name": "web", "type": "webservice", "properties": properties,
                                     "traits": traits}]}}


def _errors(validator, document):
    return sorted((tuple(e.absolute_path), e.validator) for e in validator.iter_errors(document))


def test_the_exported_schemas_check_trait_and_component_properties_by_type():
    validator = Draft202012Validator(editor.all_documents_schema())
    bad = {"type": "resources", "properties": {"memory": "32 gigs"}}
    assert _errors(validator, _workload([bad])) == [(("spec", "traits", "web", 0, "properties", "memory"),
                                                     "pattern")]
    assert _errors(validator, _profile({"image": "nginx"}, [bad])) == [
        (("spec", "components", 0, "traits", 0, "properties", "memory"), "pattern")]
    assert _errors(validator, _profile({"image": "nginx", "port": "http", "replica": 2}, [])) == [
        (("spec", "components", 0, "properties"), "additionalProperties"),
        (("spec", "components", 0, "properties", "port"), "type")]
    assert _errors(validator, _profile({"port": 80}, [])) == [(("spec", "components", 0, "properties"), "required")]
    environment = yaml.safe_load((ROOT / "compiler/commands/init_repo/environments/dev.yaml").read_text().split(
        "---")[1])
    environment["spec"]["defaults"]["traits"][0]["properties"]["runAsUser"] = -1
    assert _errors(validator, environment) == [(("spec", "defaults", "traits", 0, "properties", "runAsUser"),
                                                "minimum")]


def test_the_exported_schemas_are_never_stricter_than_easel_on_properties():
    """easel fills `{{ ... }}` from the parameters before it checks, in a profile, an environment's defaults and a
    workload alike; the same trait type merges across layers before it is checked; a type it does not know is
    not the editor's to judge (a definition the schemas were written without)."""
    validator = Draft202012Validator(editor.all_documents_schema())
    templated = [{"type": "resources", "properties": {"memory": "{{ params.memory }}", "cpu": "{% if x %}1{% endif %}",
                                                      "limits": "{{ params.limits }}"}},
                 {"type": "replicas", "properties": {"count": "{{ params.replicas }}"}},
                 {"type": "node-placement", "properties": {"tolerations": ["{{ params.toleration }}"]}}]
    assert _errors(validator, _profile({"image": "nginx", "port": "{{ params.port }}"}, templated)) == []
    assert _errors(validator, _workload(templated)) == []
    # a workload's part of a trait: the profile may give what the schema requires (storage: size and mountPath)
    assert _errors(validator, _workload([{"type": "storage", "properties": {"size": "20Gi"}},
                                         {"type": "replicas", "properties": {}}])) == []
    assert _errors(validator, _workload([{"type": "shm", "properties": {"size": "32 gigs"}}])) == []
    # a list is given whole by one layer: its items keep what they require
    tolerations = [{"type": "node-placement", "properties": {"tolerations": [{"operator": "Sometimes"}]}}]
    assert _errors(validator, _workload(tolerations)) == [
        (("spec", "traits", "web", 0, "properties", "tolerations", 0, "operator"), "enum")]


def test_schema_out_in_a_repository_checks_its_own_definitions(tmp_path):
    assert easel("-C", str(tmp_path), "init", "repo").code == 0
    repo = tmp_path / "repo"
    (repo / "profiles/shm.yaml").write_text(
        "apiVersion: easel.dev/v1alpha1\nkind: TraitDefinition\nmetadata: {name: shm}\nspec:\n"
        "  parameters: {size: {type: string, format: quantity}, medium: {enum: [Memory, Disk], default: Memory}}\n"
        "  template: 'patches: []'\n---\n"
        "apiVersion: easel.dev/v1alpha1\nkind: TraitDefinition\nmetadata: {name: broken}\nspec:\n"
        "  parameters: {size: {type: integer}}\n  template: '{{ unclosed'\n")
    run = easel("-C", str(repo), "schema", "--out", editor.SCHEMA_FOLDER)
    assert run.code == 0, run.text
    written = json.loads((repo / editor.SCHEMA_FOLDER / "easel.json").read_text())
    assert json.loads(easel("-C", str(repo), "schema").out) == written
    validator = Draft202012Validator(written)
    assert _errors(validator, _workload([{"type": "shm", "properties": {"size": "32 gigs", "medium": "Tape"}}])) == [
        (("spec", "traits", "web", 0, "properties", "medium"), "enum"),
        (("spec", "traits", "web", 0, "properties", "size"), "pattern")]
    assert _errors(validator, _workload([{"type": "shm", "properties": {"size": "{{ params.shm }}"}}])) == []
    # a definition that fails validate is left out: its uses are not checked, as with any unknown type
    assert _errors(validator, _workload([{"type": "broken", "properties": {"size": "big"}}])) == []
    assert "trait-shm" in written["$defs"] and "trait-broken" not in written["$defs"]
    assert written == editor.all_documents_schema(editor.repository_definitions(DirectorySource(repo)))


# the patterns and easel's parsers agree (Python's `$` also matches before a final newline, ECMA-262's does not:
# newlines are left to the table run through node below)

def _matches(pattern: str, text: str) -> bool:
    return re.search(pattern, text) is not None


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(alphabet="0123456789.+-eEKMGTPimnuk \t٣\u00a0x", max_size=8),
                 st.from_regex(r"\A[+-]?[0-9]{0,4}(\.[0-9]{0,3})?(Ki|Mi|Gi|m|k|M|e[0-9]|E|Ei)?\Z")))
def test_the_quantity_pattern_is_the_parser(text):
    assert _matches(blocks.FORMAT_PATTERNS["quantity"], text) == quantity.is_quantity(text), repr(text)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(alphabet="0123.+-abzAZ_v ", max_size=12),
                 st.from_regex(r"\A(0|[1-9][0-9]?|0[0-9])\.[0-9]{1,2}\.[0-9]{1,2}(-[0-9a-z.-]{0,5})?"
                               r"(\+[0-9a-z.]{0,4})?\Z")))
def test_the_semver_pattern_is_the_parser(text):
    assert _matches(blocks.SEMVER_PATTERN, text) == versions.is_version(text), repr(text)


RANGES = ["^1.2", "~1.3", ">=1.2 <2", ">=1.2, <2", "1.x", "*", "x", "X", "1.2.3 - 2.3", ">= 1.2", "> =1.2",
          "~>1.2", "=1.2", "==1.2", "v1.2", "^v1.2", "1 || 2", "1||2", ">=1.2.3-rc.1", "<=1.2.3-alpha+b", "1.2.*",
          "1.x.x", " 1.2", "\t1.2", "1,2", "^ 1.2", "|| 1", "1 ||", ">=24.3 <25", "1.2.0", ">1.2 <1.0"]
NOT_RANGES = ["", "latest", "gigs", "1.2.3.4", "a", "~", "^", ">", ">=", "!1", "- 1.0", "1.0.0 -",
              "32 gigs", "stable", "1.2.3.beta"]


@pytest.mark.parametrize("text", RANGES)
def test_the_range_pattern_admits_what_node_semver_reads(text):
    assert versions.is_range(text), text
    assert _matches(blocks.SEMVER_RANGE_PATTERN, text), text


@pytest.mark.parametrize("text", NOT_RANGES)
def test_the_range_pattern_rejects_junk(text):
    assert not versions.is_range(text), text
    assert not _matches(blocks.SEMVER_RANGE_PATTERN, text), text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0129.xX*^~<>=|-+, av", max_size=12))
def test_no_range_node_semver_reads_is_flagged_by_the_editor(text):
    if versions.is_range(text):
        assert _matches(blocks.SEMVER_RANGE_PATTERN, text), repr(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='ab.[]0*"1 _-', max_size=10))
def test_the_values_path_pattern_is_the_parser(text):
    assert _matches(blocks.VALUES_PATH_PATTERN, text) == valuespath.is_path(text), repr(text)


def test_the_patterns_read_the_same_as_ecma_262():
    """Editors run the patterns as JavaScript regular expressions (with the `u` flag): each compiles, and a table
    of values gets the answer easel's own checks give."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed: the patterns are checked with Python's re only")
    from compiler.schemas import check as schemacheck

    patterns = sorted({sub["pattern"] for schema in EXPORTED.values() for _, sub in subschemas(schema)
                       if isinstance(sub, dict) and "pattern" in sub}
                      | {sub["pattern"] for schema in EXPORTED.values() for _, sub in subschemas(schema)
                         if isinstance(sub, dict) and isinstance(sub.get("propertyNames"), dict)
                         for sub in [sub["propertyNames"]] if "pattern" in sub})
    values = {
        "quantity": ["64Gi", "500m", "1.5", "1e3", "1E3", "-2Ki", " 8Gi ", "8Gi\n", ".5", "5.", "32 gigs", "Gi", "1e",
                     "1.2.3", "", "٣Gi", "1Ei", "1ki"],
        "semver": ["1.2.3", "1.2.3-rc.1", "1.2.3+b.01", "01.2.3", "1.2", "v1.2.3", "1.2.3\n", "1.2.3-01", "1.2.3-"],
        "semver-range": RANGES + NOT_RANGES + ["1.2\n"],
        "duration": ["10m", "1h30m", "500ms", "1.5h", "10", "10 m", "1d", "10m\n"],
        "values-path": ["a.b[0].c", 'a.limits["nvidia.com/gpu"]', "a[*].b", ".a", "a..b", "a[x]", "a[0]b"],
    }
    cases = [(fmt, value) for fmt, texts in values.items() for value in texts]
    script = ("const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              "const compiled = input.patterns.map(p => { try { new RegExp(p, 'u'); return null; }"
              " catch (e) { return p + ': ' + e.message; } }).filter(x => x);"
              "const answers = input.cases.map(([p, v]) => new RegExp(p, 'u').test(v));"
              "process.stdout.write(JSON.stringify({compiled, answers}));")
    request = {"patterns": patterns, "cases": [[blocks.FORMAT_PATTERNS[f], v] for f, v in cases]}
    run = subprocess.run([node, "-e", script], input=json.dumps(request), capture_output=True, text=True,
                         timeout=60, check=True)
    result = json.loads(run.stdout)
    assert result["compiled"] == [], "patterns that are not ECMA-262 regular expressions"
    expected = [schemacheck.FORMATS.conforms(value, fmt) for fmt, value in cases]
    disagree = [case for case, js, py in zip(cases, result["answers"], expected) if js != py]
    assert not disagree, f"the editor's answer differs from easel's: {disagree}"


# the command line

def test_schema_prints_a_kind_a_builtin_definition_or_every_document():
    workload = json.loads(easel("schema", "workload").out)
    assert workload["title"] == "Workload" and workload["properties"]["spec"]["properties"]["project"]["description"]
    chart = json.loads(easel("schema", "helm-chart").out)
    # a chart from a Repository, a chart folder of a Git Repository, or an in-house chart's folder
    assert [one["required"] for one in chart["oneOf"]] == [["repository", "chart", "version"], ["repository", "path"],
                                                           ["path"]]
    assert "traitValues" in chart["properties"] and chart["description"].startswith("A Helm chart")
    gpu = json.loads(easel("schema", "gpu").out)
    assert gpu["properties"]["minMemory"]["pattern"] == quantity.PATTERN
    every = json.loads(easel("schema").out)
    # each kind, and the properties of each built-in definition (which the kinds' uses select by `type`)
    assert set(every["$defs"]) == {*schemas.DOCUMENT_KINDS, *(f"{kind}-{name}" for kind, names in
                                                              editor.builtin_names().items() for name in names)}
    unknown = easel("schema", "helm")
    assert unknown.code == 2
    assert "built-in components: helm-chart" in unknown.err and "built-in traits: gpu" in unknown.err
    assert "helm-chart" in easel("schema", "--help").out


def test_schema_out_writes_every_schema_and_a_catalog_inside_the_folder(tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text("keep")
    target = tmp_path / "schemas"
    target.mkdir()
    (target / "Workload.json").symlink_to(outside)  # replaced, never written through
    run = easel("-C", str(tmp_path), "schema", "--out", "schemas")
    assert run.code == 0, run.text
    assert outside.read_text() == "keep" and not (target / "Workload.json").is_symlink()
    written = {p.name for p in target.iterdir()}
    expected = {"easel.json", "catalog.json", *(f"{k}.json" for k in schemas.KINDS),
                *(f"component-{n}.json" for n in editor.builtin_names()["component"]),
                *(f"trait-{n}.json" for n in editor.builtin_names()["trait"])}
    assert written == expected
    catalog = json.loads((target / "catalog.json").read_text())
    urls = [entry["url"] for entry in catalog["schemas"]]
    assert sorted(urls) == sorted(expected - {"catalog.json"})
    assert all((target / url).is_file() for url in urls)
    by_url = {entry["url"]: entry for entry in catalog["schemas"]}
    assert by_url["Settings.json"]["fileMatch"] == ["easel.yaml"]
    assert "workloads/**/*.yaml" in by_url["easel.json"]["fileMatch"]
    assert all(entry["name"] and entry["description"] for entry in catalog["schemas"])
    assert json.loads((target / "trait-gpu.json").read_text()) == json.loads(easel("schema", "gpu").out)
    assert easel("schema", "gpu", "--out", str(target)).code == 2


def test_init_writes_the_schemas_and_the_vscode_settings_that_point_at_them(tmp_path):
    assert easel("-C", str(tmp_path), "init", "fresh").code == 0
    repo = tmp_path / "fresh"
    settings_ = json.loads((repo / ".vscode/settings.json").read_text())
    mapping = settings_["yaml.schemas"]
    assert mapping["./.easel/schemas/Settings.json"] == ["easel.yaml"]
    assert "workloads/**/*.yaml" in mapping["./.easel/schemas/easel.json"]
    assert all((repo / path).is_file() for path in mapping)
    assert json.loads((repo / ".vscode/extensions.json").read_text()) == {"recommendations": ["redhat.vscode-yaml"]}
    regenerated = tmp_path / "regenerated"
    assert easel("schema", "--out", str(regenerated)).code == 0
    assert {p.name: p.read_bytes() for p in (repo / ".easel/schemas").iterdir()} == \
        {p.name: p.read_bytes() for p in regenerated.iterdir()}
    assert easel("-C", str(repo), "validate").code == 0
    again = easel("-C", str(tmp_path), "init", "fresh")
    assert again.code == 1 and ".vscode/settings.json" in again.err


def test_the_example_carries_its_editor_setup_and_current_schemas():
    """This repository is a config repository too: opened in VS Code it is checked with the schemas it carries."""
    folder = ROOT / editor.SCHEMA_FOLDER
    committed = {p.name: p.read_text() for p in folder.iterdir()}
    assert committed == editor.schema_texts(editor.repository_definitions(DirectorySource(ROOT))), f"{editor.SCHEMA_FOLDER} is stale; run `easel schema --out " \
                                               f"{editor.SCHEMA_FOLDER}` and commit it"
    for path, text in editor.editor_files().items():
        assert (ROOT / path).read_text() == text, path


# the reference docs

def test_the_file_formats_reference_is_current():
    committed = (ROOT / "docs/reference/file-formats.md").read_text()
    assert committed == schemadocs.render(), f"docs/reference/file-formats.md is stale; run `{schemadocs.COMMAND}`"


def test_the_file_formats_reference_has_every_field():
    text = schemadocs.render()
    assert schemadocs.COMMAND in text.splitlines()[2]
    for kind in schemas.KINDS:
        assert f"\n## {kind}\n" in text
    for kind, names in editor.builtin_names().items():
        for name in names:
            assert f"\n### {kind} {name}\n" in text
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert "| `spec.gitops.engine` | one of `flux`, `argocd` |  | `flux` | The GitOps engine of clusters that " \
           "do not say. |" in rows
    assert any(r.startswith("| `spec.clusterProfile` |") and "when `source` is `palette`" in r for r in rows)
    assert any(r.startswith("| `properties.minMemory` |") and "(#format-quantity)" in r for r in rows)
    sections = {part.split("\n", 1)[0]: part for part in text.split("\n## ")}
    for kind in schemas.KINDS:
        spec = editor.kind_schema(kind)["properties"]["spec"]
        section_rows = [r for r in sections[kind].splitlines() if r.startswith("| `")]
        for path, field in fields(spec):
            name = path.rsplit("/", 1)[1]
            assert any(r.split("`")[1].endswith(f".{name}") and field["description"] in r for r in section_rows), \
                f"{kind}: {path} is not in the reference"
