"""The command line: thin commands that call the pipeline and hand diagnostics to a renderer.

Exit status: 0 success; 1 the repository has errors (or --check found a difference); 2 bad usage.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

import click

from . import __version__, explain as explaining, report, scaffold, schemas
from .codes import CODES
from .diagnostics import Diagnostics, error
from .pipeline import Result, compile_repository
from .source import DirectorySource
from .status import fleet_status, render_tables
from .lock import LOCK_FILE
from .write import diff, write, write_file

FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
                      show_default=True, help="How to print diagnostics.")


class State:
    def __init__(self, directory: str):
        self.root = Path(directory).resolve()

    def source(self) -> DirectorySource:
        return DirectorySource(self.root)


def _print_diagnostics(result_texts: dict[str, str], diagnostics: Diagnostics, fmt: str) -> None:
    if fmt == "json":
        click.echo(report.json_text(diagnostics, result_texts))
        return
    if not len(diagnostics):
        return
    click.echo(report.RENDERERS[fmt](diagnostics, result_texts), err=fmt == "text")


def _finish(result: Result, fmt: str, summary: str | None) -> None:
    _print_diagnostics(result.texts, result.diagnostics, fmt)
    if result.diagnostics.has_errors:
        errors = sum(1 for d in result.diagnostics if d.is_error)
        if fmt == "text":
            click.echo(f"easel: {errors} error{'s' if errors != 1 else ''}", err=True)
        sys.exit(1)
    if summary and fmt != "json":
        click.echo(summary, err=fmt == "github")


def _compile(state: State, render_output: bool = True) -> Result:
    if not state.root.is_dir():
        raise click.UsageError(f"{state.root} is not a folder")
    return compile_repository(state.source(), render_output=render_output)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "directory", default=".", metavar="DIR", help="Run as if easel was started in DIR.")
@click.version_option(__version__, prog_name="easel")
@click.pass_context
def cli(ctx: click.Context, directory: str) -> None:
    """easel: compile a GitOps config repository of AI/ML stacks into per-cluster Flux and Argo CD trees."""
    ctx.obj = State(directory)


@cli.command()
@FORMAT
@click.pass_obj
def validate(state: State, fmt: str) -> None:
    """Check the repository (every stage but writing) and report every problem."""
    result = _compile(state, render_output=False)
    placed = sum(1 for p in result.placements if p.placed)
    _finish(result, fmt, "\n".join([f"ok: {len(result.model.workloads)} workloads, {placed} placed on "
                                    f"{len(result.fleet)} clusters", *_moves(result)]))


@cli.command(name="compile")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the output folder is not up to date.")
@click.option("--locked", is_flag=True, help="Exit 1, writing nothing, when easel.lock would change (for CI).")
@click.option("--out", "out_dir", metavar="DIR", help="Write here instead of the configured output folder.")
@FORMAT
@click.pass_obj
def compile_command(state: State, check: bool, locked: bool, out_dir: str | None, fmt: str) -> None:
    """Compile the repository into its output folder."""
    _compile_and_write(state, check=check, locked=locked, out_dir=out_dir, fmt=fmt)


@cli.command()
@click.option("--update", "update", is_flag=False, flag_value="*", default=None, metavar="[PROFILE]",
              help="Move workloads to the newest allowed profile versions (of PROFILE only, when named).")
@FORMAT
@click.pass_obj
def lock(state: State, update: str | None, fmt: str) -> None:
    """Write easel.lock (and output/) for the repository as it is, or with --update newer versions."""
    _compile_and_write(state, check=False, locked=False, out_dir=None, fmt=fmt, update=update)


def _compile_and_write(state: State, check: bool, locked: bool, out_dir: str | None, fmt: str,
                       update: str | None = None) -> None:
    if not state.root.is_dir():
        raise click.UsageError(f"{state.root} is not a folder")
    result = compile_repository(state.source(), update=update)
    if update not in (None, "*") and result.model and update not in result.model.profiles:
        raise click.BadParameter(f"no profile {update!r}", param_hint="--update")
    if result.files is None:
        _finish(result, fmt, None)
        return
    out = Path(out_dir) if out_dir else state.root / result.model.settings.output
    if not out.is_absolute():
        out = state.root / out
    clusters = len(result.fleet)
    placed = sum(len(p.clusters) for p in result.placements)
    lock_path = state.root / LOCK_FILE
    lock_stale = _read_text(lock_path) != result.lock_text
    if locked and lock_stale:
        result.diagnostics.add(error("E804", f"{LOCK_FILE} would change"
                                     + "".join(f"\n  {line}" for line in _moves(result))))
        _finish(result, fmt, None)
    if check:
        changes = diff(out, result.files)
        if lock_stale and not out_dir:
            result.diagnostics.add(error("E803", f"{LOCK_FILE} is not up to date with what this compile decides "
                                         + "".join(f"\n  {line}" for line in _moves(result))))
        if changes.any:
            listed = ([f"  added    {p}" for p in changes.added] + [f"  changed  {p}" for p in changes.changed]
                      + [f"  removed  {p}" for p in changes.removed])
            result.diagnostics.add(error(
                "E803", f"{out} is not up to date: {len(changes.added)} to add, {len(changes.changed)} to change, "
                f"{len(changes.removed)} to remove\n" + "\n".join(listed[:20])
                + (f"\n  … and {len(listed) - 20} more" if len(listed) > 20 else "")))
        _finish(result, fmt, f"up to date: {len(result.files)} files for {placed} placements on {clusters} clusters")
        return
    changes = write(out, result.files, result.diagnostics)
    summary = None
    if changes is not None and lock_stale and not out_dir:  # --out previews: the repository is left alone
        if not write_file(lock_path, result.lock_text, result.diagnostics):
            changes = None
    if changes is not None:
        summary = "\n".join([
            f"compiled {len(result.model.workloads)} workloads into {placed} placements on {clusters} clusters: "
            f"{len(changes.added)} added, {len(changes.changed)} changed, {len(changes.removed)} removed, "
            f"{changes.unchanged} unchanged ({out})", *_moves(result)])
    _finish(result, fmt, summary)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _moves(result: Result) -> list[str]:
    """What this compile changes in where workloads run, compared with easel.lock, and why."""
    lines = []
    versions = result.model.lock.versions if result.model else {}
    for resolved in result.resolved:
        before = versions.get(resolved.id)
        now = (resolved.profile.meta.name, resolved.profile.version)
        if before and before != now:
            lines.append(f"updated {resolved.id}: {' '.join(before)} -> {' '.join(now)}")
    previous = result.model.lock.placements if result.model else {}
    for placement in result.placements:
        before = set(previous.get(placement.workload.id, ()))
        if not before:
            if placement.clusters:
                lines.append(f"placed {placement.workload.id} on {', '.join(placement.clusters)}")
            continue
        added = [c for c in placement.clusters if c not in before]
        for cluster, why in sorted(placement.left.items()):
            lines.append(f"moved {placement.workload.id} off {cluster} ({why})"
                         + (f"; now on {', '.join(placement.clusters)}" if placement.clusters else ""))
        if added and not placement.left:
            lines.append(f"also placed {placement.workload.id} on {', '.join(added)}")
    for workload in sorted(set(previous) - {p.workload.id for p in result.placements}):
        lines.append(f"removed {workload} from {', '.join(previous[workload])}")
    return lines


@cli.command()
@click.argument("workload", required=False)
@click.option("--cluster", metavar="NAME", help="Explain a cluster: facts, labels, capacity, what runs there.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def explain(state: State, workload: str | None, cluster: str | None, fmt: str) -> None:
    """Explain a WORKLOAD (project/name, or name) or a --cluster."""
    if bool(workload) == bool(cluster):
        raise click.UsageError("give a WORKLOAD or --cluster NAME")
    result = _compile(state)
    if result.model is None:
        _finish(result, "text", None)
    if cluster:
        if cluster not in result.fleet:
            _fail(f"no cluster {cluster!r}", result)
        data = explaining.cluster_report(result, cluster)
        click.echo(json.dumps(data, indent=2) if fmt == "json" else explaining.cluster_text(data))
    else:
        found, problem = explaining.find_workload(result, workload)
        if found is None:
            _fail(problem, result)
        data = explaining.workload_report(result, found)
        click.echo(json.dumps(data, indent=2, default=str) if fmt == "json" else explaining.workload_text(data))
    if result.diagnostics.has_errors:
        errors = sum(1 for d in result.diagnostics if d.is_error)
        click.echo(f"easel: the repository has {errors} error(s); run `easel validate` to see them", err=True)
        sys.exit(1)


def _fail(message: str, result: Result) -> None:
    click.echo(f"error[E901]: {message}", err=True)
    sys.exit(1)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def status(state: State, fmt: str) -> None:
    """The fleet at a glance: GPUs per cluster and product, quotas per project."""
    from rich.console import Console

    result = _compile(state, render_output=False)
    if result.diagnostics.has_errors:
        _finish(result, "text", None)
    data = fleet_status(result)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        render_tables(data, Console(highlight=False, width=None if sys.stdout.isatty() else 120))


@cli.group()
def inventory() -> None:
    """The fleet inventory: import what clusters report about their nodes."""


@inventory.command(name="import")
@click.option("--cluster", required=True, metavar="NAME", help="The Cluster whose devices these nodes are.")
@click.argument("nodes", type=click.File("r", encoding="utf-8"), metavar="NODES.json")
@click.pass_obj
def inventory_import(state: State, cluster: str, nodes) -> None:
    """Write the cluster's Device documents from `kubectl get nodes -o json` (NODES.json, or - for stdin)."""
    from . import inventory_import as importer

    try:
        found = importer.read_nodes(nodes.read())
    except (importer.NodeListError, UnicodeDecodeError) as exc:
        click.echo(f"error[E105]: {getattr(nodes, 'name', 'NODES.json')}: {exc}; nothing was written", err=True)
        sys.exit(1)
    result = _compile(state, render_output=False)
    if result.model is None or any(d.is_error and d.code in ("E101", "E102", "E103", "E104", "E105", "E107")
                                   for d in result.diagnostics):
        _finish(result, "text", None)  # files easel cannot read back are not edited
    diagnostics = Diagnostics()
    try:
        summary = importer.import_nodes(state.root, cluster, found, result, diagnostics)
    except importer.NodeListError as exc:
        click.echo(f"error[E105]: {exc}; nothing was written", err=True)
        sys.exit(1)
    if summary is None:
        _finish(Result(result.texts, diagnostics), "text", None)
    click.echo(f"imported {len(found)} nodes of cluster {cluster}: {len(summary.added)} added, "
               f"{len(summary.updated)} updated, {len(summary.unchanged)} unchanged, {len(summary.removed)} removed"
               + (f", {len(summary.kept)} gone but kept for their manual tags (state: unhealthy)"
                  if summary.kept else "")
               + (f" ({', '.join(summary.files)})" if summary.files else ""))


@cli.command()
@click.argument("kind", required=False)
def schema(kind: str | None) -> None:
    """Print the JSON Schema of KIND, or of every kind (for editors such as yaml-language-server)."""
    if kind is None:
        click.echo(json.dumps(schemas.combined_schema(), indent=2))
        return
    match = next((k for k in schemas.KINDS if k.lower() == kind.lower()), None)
    if match is None:
        raise click.BadParameter(f"{kind!r}; kinds: {', '.join(schemas.KINDS)}", param_hint="KIND")
    click.echo(json.dumps(schemas.document_schema(match), indent=2))


@cli.command()
@click.argument("directory", default=".", required=False)
@click.pass_obj
def init(state: State, directory: str) -> None:
    """Create a small working config repository in DIRECTORY (default: here)."""
    target = (state.root / directory).resolve()
    existing = scaffold.conflicts(target)
    if existing:
        click.echo(f"error[E902]: {target} already has {', '.join(existing)}; nothing was written", err=True)
        sys.exit(1)
    written = scaffold.write(target)
    click.echo(f"created {len(written)} files in {target}; next: easel -C {directory} compile")


@cli.command()
@click.argument("code", required=False)
def codes(code: str | None) -> None:
    """List the diagnostic codes, or explain one CODE."""
    if code:
        found = CODES.get(code.upper())
        if found is None:
            raise click.BadParameter(f"no code {code!r}", param_hint="CODE")
        click.echo(f"{found.code}: {found.title}")
        if found.hint:
            click.echo(f"hint: {found.hint}")
        return
    for found in CODES.values():
        click.echo(f"{found.code}  {found.title}")


def main() -> None:
    try:
        cli(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception:  # a bug, not bad input: say so in one line
        if os.environ.get("EASEL_DEBUG"):
            traceback.print_exc()
        click.echo(f"error[E999]: internal error: {sys.exc_info()[1]!r}", err=True)
        click.echo(f"  hint: {CODES['E999'].hint}", err=True)
        sys.exit(1)
