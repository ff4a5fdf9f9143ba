"""The commands that show: explain, status, schema, version, codes."""

from __future__ import annotations

import json
import platform
import sys

import click

from compiler import __version__, schemas
from compiler.cli import completion, lookup
from compiler.cli.common import REF, TEXT_OR_JSON, State, cli, finish, is_config_repository, without_errors
from compiler.commands import editor
from compiler.diagnostics.codes import CODES
from compiler.reports import envelope
from compiler.reports import explain as explaining
from compiler.reports.status import LISTED, fleet_status, render_tables
from compiler.write.files import out_folder


@cli.command()
@click.argument("workload", required=False, shell_complete=completion.workloads)
@click.option("--cluster", metavar="NAME", help="Explain a cluster: facts, labels, capacity, what runs there.",
              shell_complete=completion.clusters)
@click.option("--all", "every_cluster", is_flag=True,
              help=f"List every cluster of the placement (past {explaining.LISTED} the rest are counted).")
@TEXT_OR_JSON
@REF
@click.pass_obj
def explain(state: State, workload: str | None, cluster: str | None, every_cluster: bool, fmt: str,
            ref: str | None) -> int:
    """Explain a WORKLOAD (project/name, or name) or a --cluster."""
    if bool(workload) == bool(cluster):
        raise click.UsageError("give a WORKLOAD or --cluster NAME")
    result = state.compile(ref=ref)
    if result.model is None:
        return finish(result, "text", None)
    if cluster:
        lookup.cluster(result, cluster, result.fleet)
        data = explaining.cluster_report(result, cluster)
        click.echo(json.dumps(envelope("ClusterExplanation", data), indent=2) if fmt == "json"
                   else explaining.cluster_text(data))
    elif workload is not None:
        data = explaining.workload_report(result, lookup.workload(result, workload))
        click.echo(json.dumps(envelope("WorkloadExplanation", data), indent=2, default=str) if fmt == "json"
                   else explaining.workload_text(data, every_cluster))
    if result.diagnostics.has_errors:
        errors = result.diagnostics.error_count
        click.echo(f"easel: the repository has {errors} error(s); run `easel validate` to see them", err=True)
        return 1
    return 0


@cli.command()
@click.option("--all", "every_cluster", is_flag=True,
              help=f"List every cluster (past {LISTED} they are summed up per GPU product).")
@TEXT_OR_JSON
@click.pass_obj
def status(state: State, every_cluster: bool, fmt: str) -> int:
    """The fleet at a glance: GPUs per cluster and product, quotas per project."""
    from rich.console import Console

    result = without_errors(state)
    if isinstance(result, int):
        return result
    data = fleet_status(result)
    if fmt == "json":
        click.echo(json.dumps(envelope("FleetStatus", data), indent=2))
    else:
        render_tables(data, Console(highlight=False, width=None if sys.stdout.isatty() else 120), every_cluster)
    return 0


def _schema_names() -> str:
    builtin = editor.builtin_names()
    return (f"kinds: {', '.join(schemas.KINDS)}; built-in components: {', '.join(builtin['component'])}; "
            f"built-in traits: {', '.join(builtin['trait'])}")


def _definitions(state: State) -> editor.Definitions | None:
    """In a config repository, the built-in definitions and its own, whose properties the kinds' schemas check;
    elsewhere None (the built-in ones)."""
    return editor.repository_definitions(state.source()) if is_config_repository(state.root) else None


@cli.command(help="Print the JSON Schema of NAME, or of every document of the input folders (for editors such as "
             "yaml-language-server); with --out, write every schema and a catalog into DIR.\n\nNAME is a kind "
             f"(the whole document) or a built-in definition (its properties). {_schema_names()}.\n\nRun in a "
             "config repository, the kinds' schemas check the properties of its own ComponentDefinitions and "
             "TraitDefinitions too.")
@click.argument("name", metavar="[NAME]", required=False, shell_complete=completion.schema_names)
@click.option("--out", "out_dir", metavar="DIR", help="Write one file per kind and built-in definition, easel.json "
              "(every document of the input folders) and catalog.json into DIR.")
@click.pass_obj
def schema(state: State, name: str | None, out_dir: str | None) -> int:
    if out_dir is not None:
        if name is not None:
            raise click.UsageError("give a NAME or --out DIR, not both")
        target = out_folder(state.root, out_dir)
        written = editor.write_schemas(target, _definitions(state))
        click.echo(f"wrote {len(written)} files into {target}")
        return 0
    if name is None:
        found = editor.all_documents_schema(_definitions(state))
    elif (kind := next((k for k in schemas.KINDS if k.lower() == name.lower()), None)) is not None:
        found = editor.kind_schema(kind, _definitions(state))
    elif (definition := editor.find_definition(name.lower())) is not None:
        found = editor.definition_schema(*definition)
    else:
        raise click.BadParameter(f"{name!r}; {_schema_names()}", param_hint="NAME")
    click.echo(json.dumps(found, indent=2))
    return 0


@cli.command()
@TEXT_OR_JSON
def version(fmt: str) -> int:
    """easel's version (and, as JSON, the Python that runs it)."""
    if fmt == "json":
        click.echo(json.dumps(envelope("Version", {"version": __version__, "python": platform.python_version()}),
                              indent=2))
    else:
        click.echo(f"easel {__version__}")
    return 0


@cli.command()
@click.argument("code", required=False)
def codes(code: str | None) -> int:
    """List the diagnostic codes, or explain one CODE."""
    if code:
        found = CODES.get(code.upper())
        if found is None:
            raise click.BadParameter(f"no code {code!r}", param_hint="CODE")
        click.echo(f"{found.code}: {found.title}")
        if found.hint:
            click.echo(f"hint: {found.hint}")
        return 0
    for found in CODES.values():
        click.echo(f"{found.code}  {found.title}")
    return 0
