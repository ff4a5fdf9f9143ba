"""The command line: thin commands that call the pipeline and hand diagnostics to a renderer.

Exit status: 0 success; 1 the repository has errors (or --check found a difference); 2 bad usage.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import NoReturn

import click

from . import __version__, explain as explaining, report, scaffold, schemas
from .codes import CODES
from .diagnostics import Diagnostics, error
from .pipeline import Result, compile_repository
from .source import DirectorySource
from .status import fleet_status, render_tables
from .lock import LOCK_FILE, Lock
from .write import diff as diff_output
from .write import write, write_file

FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
                      show_default=True, help="How to print diagnostics.")


class State:
    def __init__(self, directory: str):
        self.root = Path(directory).resolve()

    def source(self, ref: str | None = None):
        """The repository as it is on disk, or at a git revision (through libgit2, without a checkout)."""
        if ref is None:
            return DirectorySource(self.root)
        from .gitsource import GitSource, RevisionError

        try:
            return GitSource(self.root, ref)
        except RevisionError as exc:
            _fail("E903", str(exc), hint=True)


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


def _compile(state: State, render_output: bool = True, ref: str | None = None, update: str | None = None,
             edit_lock=None) -> Result:
    if not state.root.is_dir():
        raise click.UsageError(f"{state.root} is not a folder")
    return compile_repository(state.source(ref), render_output=render_output, update=update, edit_lock=edit_lock)


def _fail(code: str, message: str, hint: bool = False) -> NoReturn:
    """Stop with one error that is about the command, not about the repository's files."""
    click.echo(f"error[{code}]: {message}", err=True)
    if hint:
        click.echo(f"  hint: {CODES[code].hint}", err=True)
    sys.exit(1)


REF = click.option("--ref", metavar="REV", help="Read the repository as it is at this git commit, branch or tag.")
TEXT_OR_JSON = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)


def _compiled_without_errors(state: State, render_output: bool = False) -> Result:
    """The compile result; the command stops here, printing the errors, when the repository has any."""
    result = _compile(state, render_output=render_output)
    if result.diagnostics.has_errors:
        _finish(result, "text", None)
    return result


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "directory", default=".", metavar="DIR", help="Run as if easel was started in DIR.")
@click.version_option(__version__, prog_name="easel")
@click.pass_context
def cli(ctx: click.Context, directory: str) -> None:
    """easel: compile a GitOps config repository of AI/ML stacks into per-cluster Flux and Argo CD trees."""
    ctx.obj = State(directory)


@cli.command()
@FORMAT
@REF
@click.pass_obj
def validate(state: State, fmt: str, ref: str | None) -> None:
    """Check the repository (every stage but writing) and report every problem."""
    result = _compile(state, render_output=False, ref=ref)
    placed = sum(1 for p in result.placements if p.placed)
    _finish(result, fmt, "\n".join([f"ok: {len(result.model.workloads)} workloads, {placed} placed on "
                                    f"{len(result.fleet)} clusters", *_moves(result)]))


@cli.command(name="compile")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the output folder is not up to date.")
@click.option("--locked", is_flag=True, help="Exit 1, writing nothing, when easel.lock would change (for CI).")
@click.option("--out", "out_dir", metavar="DIR", help="Write here instead of the configured output folder.")
@FORMAT
@REF
@click.pass_obj
def compile_command(state: State, check: bool, locked: bool, out_dir: str | None, fmt: str, ref: str | None) -> None:
    """Compile the repository into its output folder."""
    _compile_and_write(state, check=check, locked=locked, out_dir=out_dir, fmt=fmt, ref=ref)


@cli.command()
@click.option("--update", "update", is_flag=False, flag_value="*", default=None, metavar="[PROFILE]",
              help="Move workloads to the newest allowed profile versions (of PROFILE only, when named).")
@FORMAT
@click.pass_obj
def lock(state: State, update: str | None, fmt: str) -> None:
    """Write easel.lock (and output/) for the repository as it is, or with --update newer versions."""
    _compile_and_write(state, check=False, locked=False, out_dir=None, fmt=fmt, update=update)


def _compile_and_write(state: State, check: bool, locked: bool, out_dir: str | None, fmt: str,
                       update: str | None = None, edit_lock=None, ref: str | None = None) -> None:
    result = _compile(state, ref=ref, update=update, edit_lock=edit_lock)
    preview = bool(out_dir or ref)  # --out and --ref leave the working tree's easel.lock alone
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
    on_disk = result.texts.get(LOCK_FILE)
    # a checkout with CRLF line ends (git's autocrlf) holds the same lock
    lock_stale = (on_disk and on_disk.replace("\r\n", "\n")) != result.lock_text
    if locked and lock_stale:
        result.diagnostics.add(error("E804", f"{LOCK_FILE} would change"
                                     + "".join(f"\n  {line}" for line in _moves(result))))
        _finish(result, fmt, None)
    if check:
        changes = diff_output(out, result.files)
        if lock_stale and not preview:
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
    if changes is not None and lock_stale and not preview:  # previews leave the repository alone
        if not write_file(lock_path, result.lock_text, result.diagnostics):
            changes = None
    if changes is not None:
        summary = "\n".join([
            f"compiled {len(result.model.workloads)} workloads into {placed} placements on {clusters} clusters: "
            f"{len(changes.added)} added, {len(changes.changed)} changed, {len(changes.removed)} removed, "
            f"{changes.unchanged} unchanged ({out})", *_moves(result)])
    _finish(result, fmt, summary)


def _moves(result: Result) -> list[str]:
    """What this compile changes in where workloads run, compared with easel.lock, and why."""
    lines = []
    before_lock = result.previous_lock or Lock()
    for resolved in result.resolved:
        before = before_lock.versions.get(resolved.id)
        now = (resolved.profile.meta.name, resolved.profile.version)
        if before and before != now:
            lines.append(f"updated {resolved.id}: {' '.join(before)} -> {' '.join(now)}")
        was, rollout = before_lock.rollouts.get(resolved.id), resolved.rollout
        if rollout and (was is None or (was.from_version, was.to_version) != (rollout.from_version, rollout.to_version)):
            lines.append(f"rollout of {resolved.id} started: {rollout.from_version} -> {rollout.to_version}, wave 1 "
                         f"of {len(resolved.environment.waves)}")
        elif rollout and was and was.wave != rollout.wave:
            lines.append(f"rollout of {resolved.id} at wave {rollout.wave} of {len(resolved.environment.waves)}")
        elif was and not rollout:
            done = resolved.profile.version == was.to_version
            lines.append(f"rollout of {resolved.id} " + (f"completed: now {was.to_version} everywhere" if done else
                                                         f"rolled back: {resolved.profile.version} everywhere"))
    previous = before_lock.placements
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
@TEXT_OR_JSON
@REF
@click.pass_obj
def explain(state: State, workload: str | None, cluster: str | None, fmt: str, ref: str | None) -> None:
    """Explain a WORKLOAD (project/name, or name) or a --cluster."""
    if bool(workload) == bool(cluster):
        raise click.UsageError("give a WORKLOAD or --cluster NAME")
    result = _compile(state, ref=ref)
    if result.model is None:
        _finish(result, "text", None)
    if cluster:
        if cluster not in result.fleet:
            _fail("E901", f"no cluster {cluster!r}")
        data = explaining.cluster_report(result, cluster)
        click.echo(json.dumps(data, indent=2) if fmt == "json" else explaining.cluster_text(data))
    else:
        found, problem = explaining.find_workload(result.model, workload)
        if found is None:
            _fail("E901", problem)
        data = explaining.workload_report(result, found)
        click.echo(json.dumps(data, indent=2, default=str) if fmt == "json" else explaining.workload_text(data))
    if result.diagnostics.has_errors:
        errors = sum(1 for d in result.diagnostics if d.is_error)
        click.echo(f"easel: the repository has {errors} error(s); run `easel validate` to see them", err=True)
        sys.exit(1)


@cli.command()
@TEXT_OR_JSON
@click.pass_obj
def status(state: State, fmt: str) -> None:
    """The fleet at a glance: GPUs per cluster and product, quotas per project."""
    from rich.console import Console

    data = fleet_status(_compiled_without_errors(state))
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
        _fail("E105", f"{getattr(nodes, 'name', 'NODES.json')}: {exc}; nothing was written")
    result = _compile(state, render_output=False)
    if result.model is None or any(d.is_error and d.code in ("E101", "E102", "E103", "E104", "E105", "E107")
                                   for d in result.diagnostics):
        _finish(result, "text", None)  # files easel cannot read back are not edited
    diagnostics = Diagnostics()
    try:
        summary = importer.import_nodes(state.root, cluster, found, result, diagnostics)
    except importer.NodeListError as exc:
        _fail("E105", f"{exc}; nothing was written")
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
        _fail("E902", f"{target} already has {', '.join(existing)}; nothing was written")
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


def main(argv: list[str] | None = None) -> None:
    """The console script; argv defaults to the process's arguments."""
    try:
        cli.main(args=argv, prog_name="easel", standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception:  # a bug, not bad input: say so in one line
        if os.environ.get("EASEL_DEBUG"):
            traceback.print_exc()
        _fail("E999", f"internal error: {sys.exc_info()[1]!r}", hint=True)


@cli.group()
def rollout() -> None:
    """Progressive rollouts of new profile versions (environments with `rollout.strategy: progressive`)."""


@rollout.command(name="status")
@TEXT_OR_JSON
@click.pass_obj
def rollout_status(state: State, fmt: str) -> None:
    """Every rollout: workload, from -> to, wave k of n, the clusters of each wave."""
    from .rollout import wave_clusters

    result = _compiled_without_errors(state)
    placed = {p.workload.id: p.clusters for p in result.placements}
    labels = {name: facts.labels for name, facts in result.fleet.items()}
    rows = []
    for resolved in result.resolved:
        if resolved.rollout is None:
            continue
        waves = resolved.environment.waves
        clusters = placed.get(resolved.id, [])
        steps = wave_clusters(resolved.id, clusters, waves, labels, len(waves))
        rows.append({"workload": resolved.id, "profile": resolved.profile.meta.name,
                     "from": resolved.rollout.from_version, "to": resolved.rollout.to_version,
                     "wave": resolved.rollout.wave, "waves": [
                         {"name": wave.name, "clusters": step, "version": resolved.rollout.to_version
                          if index < resolved.rollout.wave else resolved.rollout.from_version}
                         for index, (wave, step) in enumerate(zip(waves, steps))]})
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no rollouts in progress")
    for row in rows:
        click.echo(f"{row['workload']}: {row['profile']} {row['from']} -> {row['to']}, wave {row['wave']} of "
                   f"{len(row['waves'])}")
        for index, wave in enumerate(row["waves"], start=1):
            mark = "✓" if index <= row["wave"] else " "
            click.echo(f"  {mark} {index}. {wave['name']}: {', '.join(wave['clusters']) or '(no clusters)'}"
                       f" -> {wave['version']}")


def _rollout_edit(targets: tuple[str, ...], everything: bool, step: str):
    """A change to the lock's rollouts: step 'advance' or 'rollback', for the named workloads or all."""
    from dataclasses import replace

    from .explain import find_workload
    from .lock import Rollout

    def edit(current: Lock, model) -> Lock:
        wanted = set(current.rollouts) if everything else set()
        for name in targets:
            found, problem = find_workload(model, name)
            if found is None:
                raise click.BadParameter(problem, param_hint="WORKLOAD")
            if found.id not in current.rollouts:
                raise click.BadParameter(f"{found.id} has no rollout in progress", param_hint="WORKLOAD")
            wanted.add(found.id)
        rollouts: dict[str, Rollout] = dict(current.rollouts)
        versions = dict(current.versions)
        for workload_id in sorted(wanted):
            rollout_now = rollouts.pop(workload_id)
            workload = next(w for w in model.workloads.values() if w.id == workload_id)
            total = len(model.environments[workload.environment].waves)
            if step == "advance" and rollout_now.wave < total:
                rollouts[workload_id] = replace(rollout_now, wave=rollout_now.wave + 1)
            elif step == "advance":  # past the last wave: the new version everywhere
                versions[workload_id] = (workload.profile, rollout_now.to_version)
            else:  # rollback: every wave back to where it came from
                versions[workload_id] = (workload.profile, rollout_now.from_version)
        return replace(current, rollouts=rollouts, versions=versions)

    return edit


@rollout.command(name="advance")
@click.argument("workloads", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Advance every rollout in progress.")
@FORMAT
@click.pass_obj
def rollout_advance(state: State, workloads: tuple[str, ...], everything: bool, fmt: str) -> None:
    """Move the rollout of WORKLOAD (or --all) one wave on; past the last wave it is complete."""
    if not workloads and not everything:
        raise click.UsageError("give a WORKLOAD or --all")
    _compile_and_write(state, check=False, locked=False, out_dir=None, fmt=fmt,
                       edit_lock=_rollout_edit(workloads, everything, "advance"))


@rollout.command(name="rollback")
@click.argument("workloads", nargs=-1, required=True)
@FORMAT
@click.pass_obj
def rollout_rollback(state: State, workloads: tuple[str, ...], fmt: str) -> None:
    """Return every wave of WORKLOAD's rollout to the version it came from."""
    _compile_and_write(state, check=False, locked=False, out_dir=None, fmt=fmt,
                       edit_lock=_rollout_edit(workloads, False, "rollback"))


@cli.command()
@click.option("--base", metavar="REV", help="Compare with this revision (default: the merge base with the default "
              "branch).")
@click.option("--head", metavar="REV", help="Compare this revision (default: the working tree).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
@click.option("--name-only", is_flag=True, help="List only the clusters whose output changes.")
@click.pass_obj
def diff(state: State, base: str | None, head: str | None, fmt: str, name_only: bool) -> None:
    """What a change does to every cluster: objects added, removed and changed, placements, versions."""
    from . import diff as differ
    from .gitsource import default_base, open_repository

    if base is None:
        try:
            base = default_base(open_repository(state.root))
        except Exception as exc:  # no repository, or no commit yet
            _fail("E903", f"cannot find a base to compare with: {exc}")
    results = []
    for rev in (base, head):
        result = _compile(state, ref=rev)
        if result.files is None:
            click.echo(f"easel: the repository at {rev or 'the working tree'} has errors:", err=True)
            _finish(result, "text", None)
        results.append(result)
    changes = differ.compare(*results)
    base_name, head_name = base[:12], head or "working tree"
    if name_only:
        click.echo("\n".join(d.cluster for d in changes if not d.empty))
    elif fmt == "json":
        click.echo(json.dumps(differ.as_json(changes), indent=2))
    elif fmt == "markdown":
        click.echo(differ.as_markdown(changes, base_name, head_name))
    else:
        click.echo(differ.as_text(changes, base_name, head_name))


@cli.command(name="publish")
@click.option("--branch", required=True, metavar="NAME", help="The branch to commit the output to.")
@click.option("--message", metavar="TEXT", help="The commit message.")
@click.pass_obj
def publish_command(state: State, branch: str, message: str | None) -> None:
    """Commit output/ to a branch (created when missing) that Argo CD or Flux can follow."""
    from .gitsource import RevisionError, folder_in_work_tree, open_repository
    from .publish import publish

    result = _compiled_without_errors(state, render_output=True)
    out = state.root / result.model.settings.output
    if diff_output(out, result.files).any:
        _fail("E904", f"{out} is not what the repository compiles to: run `easel compile` first")
    try:
        repo = open_repository(state.root)
        prefix = folder_in_work_tree(repo, state.root)
        folder = "/".join(p for p in (prefix, result.model.settings.output) if p)
        files = {f"{folder}/{path}": text.encode() for path, text in result.files.items()}
        head = "an unborn branch" if repo.head_is_unborn else str(repo.head.target)[:12]
        commit = publish(repo, branch, files, message or f"easel: output of {head}")
    except RevisionError as exc:
        _fail("E904", str(exc))
    if commit is None:
        click.echo(f"{branch} already holds this output: nothing to commit")
    else:
        click.echo(f"published {len(files)} files to {branch} as {commit[:12]}")
