"""What editors read: the exported schemas of every kind and built-in definition, a catalog of them, and VS Code's
settings that map them to a config repository's files. `easel schema --out DIR` and `easel init` write the same
files, through `write_schemas`. The kinds' schemas check each trait's and component's properties by its type:
the built-in definitions', and, given `repository_definitions`, a repository's own (editors.by_type)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from compiler import load, schemas, validate
from compiler.definitions.builtins import components, traits
from compiler.load import DEFAULT_INPUTS, SETTINGS_FILE
from compiler.load.source import Source
from compiler.schemas import blocks, editors
from compiler.schemas.editors import Definitions
from compiler.write.files import replace_text

ALL_DOCUMENTS = "easel.json"  # the input folders' schema: any easel document, by its kind
CATALOG = "catalog.json"
SCHEMA_FOLDER = ".easel/schemas"  # where `easel init` writes them, inside the repository (works offline)
DEFINITION_KINDS = {"component": components, "trait": traits}


def builtin_names() -> dict[str, list[str]]:
    """The built-in definitions by kind: {"component": [...], "trait": [...]}."""
    return {kind: list(module.SCHEMAS) for kind, module in DEFINITION_KINDS.items()}


def find_definition(name: str) -> tuple[str, str] | None:
    """(kind, name) of the built-in definition called name, or None."""
    return next(((kind, name) for kind, names in builtin_names().items() if name in names), None)


def definition_file(kind: str, name: str) -> str:
    return f"{kind}-{name}.json"


def definition_schema(kind: str, name: str) -> dict[str, Any]:
    """The properties schema of a built-in definition, standalone, as editors get it."""
    module = DEFINITION_KINDS[kind]
    return editors.exported({
        "$schema": blocks.DIALECT,
        "$id": f"{blocks.SCHEMA_BASE}{definition_file(kind, name)}",
        "title": f"{name} ({kind} properties)",
        "description": _sentence(module.DESCRIPTIONS[name]),
        **module.SCHEMAS[name],
    })


def builtin_definitions() -> dict[str, dict[str, dict[str, Any]]]:
    """The properties schema of every built-in definition, by kind and name, with its description."""
    return {kind: {name: {"description": _sentence(module.DESCRIPTIONS[name]), **schema}
                   for name, schema in module.SCHEMAS.items()} for kind, module in DEFINITION_KINDS.items()}


DEFINITION_DOCUMENTS = {"ComponentDefinition": "component", "TraitDefinition": "trait"}


def repository_definitions(source: Source) -> Definitions:
    """builtin_definitions() and the properties schemas of the repository's own ComponentDefinitions and
    TraitDefinitions, each as validate reads it (a map of parameters made a schema); one that fails validate is
    left out, and the editor leaves its uses unchecked."""
    raw = load.load(source)
    raw = dataclasses.replace(raw, documents=[doc for doc in raw.documents if isinstance(doc.data, dict)
                                              and doc.data.get("kind") in DEFINITION_DOCUMENTS])
    model = validate.validate(raw)[0]
    found = builtin_definitions()
    for (kind, name), definition in sorted(model.definitions.items()):
        if not definition.builtin:
            description = definition.meta.description or f"The {name} {kind}'s properties."
            found[kind][name] = {**definition.parameters, "description": _sentence(description)}
    return found


def kind_schema(kind: str, definitions: Definitions | None = None) -> dict[str, Any]:
    """A kind's whole-document schema, as editors get it."""
    found = builtin_definitions() if definitions is None else definitions
    return editors.exported(editors.by_type(schemas.document_schema(kind), found))


def all_documents_schema(definitions: Definitions | None = None) -> dict[str, Any]:
    return editors.exported(editors.combined_schema(builtin_definitions() if definitions is None else definitions))


def input_globs(inputs: tuple[str, ...] = DEFAULT_INPUTS) -> list[str]:
    """The files of the input folders, as glob patterns relative to the repository's root."""
    return [f"{folder.strip('/')}/**/*.{ext}" for folder in inputs for ext in ("yaml", "yml")]


def schema_files(definitions: Definitions | None = None) -> dict[str, dict[str, Any]]:
    """Every file `easel schema --out` writes, by name; the kinds' check the properties of definitions (default:
    the built-in ones)."""
    files = {ALL_DOCUMENTS: all_documents_schema(definitions)}
    files.update({f"{kind}.json": kind_schema(kind, definitions) for kind in schemas.KINDS})
    for kind, names in builtin_names().items():
        files.update({definition_file(kind, name): definition_schema(kind, name) for name in names})
    files[CATALOG] = catalog(files)
    return files


def catalog(files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The JSON Schema Store catalog of the files, with relative URLs; only the input folders' schema and
    easel.yaml's have file patterns (a document's folder is for people: easel goes by its kind)."""
    matches = {ALL_DOCUMENTS: input_globs(), "Settings.json": [SETTINGS_FILE]}
    entries = []
    for name, schema in files.items():
        entry = {"name": f"easel {schema['title']}", "description": schema["description"]}
        if name in matches:
            entry["fileMatch"] = matches[name]
        entries.append({**entry, "url": name})
    return {"$schema": "https://json.schemastore.org/schema-catalog.json", "version": 1, "schemas": entries}


def schema_texts(definitions: Definitions | None = None) -> dict[str, str]:
    """schema_files() as the files' text."""
    return {name: json.dumps(content, indent=2, ensure_ascii=False) + "\n"
            for name, content in schema_files(definitions).items()}


def write_schemas(directory: Path, definitions: Definitions | None = None) -> list[str]:
    """Write schema_texts() into directory (created when missing), each file replaced whole: a symbolic link in
    its place is replaced, never followed, so nothing is written outside directory."""
    written = []
    for name, text in schema_texts(definitions).items():
        replace_text(directory / name, text)
        written.append(name)
    return written


def vscode_settings(schema_folder: str = SCHEMA_FOLDER, inputs: tuple[str, ...] = DEFAULT_INPUTS) -> dict[str, Any]:
    """VS Code's workspace settings for the Red Hat YAML extension: easel.yaml and the input folders' files to
    their schemas, by paths relative to the workspace (the schemas are files of the repository: no network)."""
    return {"yaml.schemas": {f"./{schema_folder}/Settings.json": [SETTINGS_FILE],
                             f"./{schema_folder}/{ALL_DOCUMENTS}": input_globs(inputs)}}


VSCODE_EXTENSIONS = {"recommendations": ["redhat.vscode-yaml"]}


def editor_files(inputs: tuple[str, ...] = DEFAULT_INPUTS) -> dict[str, str]:
    """What `easel init` writes for editors besides the schemas, by path in the repository."""
    return {".vscode/settings.json": json.dumps(vscode_settings(inputs=inputs), indent=2) + "\n",
            ".vscode/extensions.json": json.dumps(VSCODE_EXTENSIONS, indent=2) + "\n"}


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."
