"""The commands around the repository: init, inventory import, diff, publish."""

from __future__ import annotations

import json

import click

from compiler.cli import completion
from compiler.cli.common import State, cli, finish, without_errors
from compiler.commands import scaffold
from compiler.diagnostics import Diagnostics
from compiler.diagnostics import formats as diagnostics_report
from compiler.diagnostics.errors import CommandError
from compiler.pipeline import Request, Result
from compiler.reports import envelope


@cli.command()
@click.argument("directory", default=".", required=False)
@click.pass_obj
def init(state: State, directory: str) -> int:
    """Create a small working config repository in DIRECTORY (default: here)."""
    target = (state.root / directory).resolve()
    existing = scaffold.conflicts(target)
    if existing:
        raise CommandError("E902", f"{target} already has {', '.join(existing)}; nothing was written")
    written = scaffold.write(target)
    click.echo(f"created {len(written)} files in {target}; next: easel -C {directory} compile")
    return 0


@cli.group()
def inventory() -> None:
    """The fleet inventory: import what clusters report about their nodes."""


_UNREADABLE = ("E101", "E102", "E103", "E104", "E105", "E107")  # files easel cannot read back are not edited


def _holding(cluster: str, texts: dict[str, str], files: set[str]) -> set[str]:
    """Those of files that hold the cluster's Cluster or one of its Device documents (or cannot be read)."""
    from compiler.load.yamlio import parse

    found = set()
    for path in files:
        parsed, problems = parse(texts.get(path, ""))
        if problems or any(isinstance(d, dict) and (
                (d.get("kind") == "Cluster" and (d.get("metadata") or {}).get("name") == cluster)
                or (d.get("kind") == "Device" and isinstance(d.get("spec"), dict)
                    and d["spec"].get("cluster") == cluster))
                for d in (p.data for p in parsed)):
            found.add(path)
    return found


@inventory.command(name="import")
@click.option("--cluster", required=True, metavar="NAME", help="The Cluster whose devices these nodes are.",
              shell_complete=completion.clusters)
@click.option("--replace", is_flag=True, help="Accept nodes none of which is one of the cluster's recorded devices "
              "(refused otherwise, E912): a node list then replaces those devices (one with manual tags stays, "
              "unhealthy).")
@click.argument("reports", type=click.File("r", encoding="utf-8"), metavar="FILE.json...", nargs=-1, required=True)
@click.pass_obj
def inventory_import(state: State, cluster: str, replace: bool, reports) -> int:
    """Write the cluster's Device documents from `kubectl get nodes -o json` and, on a cluster that hands out GPUs
    through DRA, `kubectl get resourceslices -o json` (each a file, or - for stdin; one List may hold both)."""
    from compiler.commands import inventory_import as importer

    outputs = []
    for report in reports:
        try:
            outputs.append(importer.read_items(report.read()))
        except (importer.NodeListError, UnicodeDecodeError) as exc:
            raise CommandError("E105", f"{getattr(report, 'name', 'FILE.json')}: {exc}; nothing was written") from None
    try:
        found = importer.reported(outputs)
    except importer.NodeListError as exc:
        raise CommandError("E105", f"{exc}; nothing was written") from None
    result = state.compile(Request(last_stage="decide"))
    holding = _holding(cluster, result.texts, {d.location.file for d in result.diagnostics
                                               if d.is_error and d.location and d.location.file})
    if any(d.is_error and (d.code in _UNREADABLE or (d.location and d.location.file in holding))
           for d in result.diagnostics):
        # a document the model could not take in is not known to hold a device: the import would add it again
        return finish(result, "text", None)
    diagnostics = Diagnostics()
    try:
        summary = importer.import_nodes(state.root, cluster, found, result, diagnostics, replace=replace)
    except importer.NodeListError as exc:
        raise CommandError("E105", f"{exc}; nothing was written") from None
    if summary is None:
        return finish(Result(result.texts, diagnostics), "text", None)
    what = (f"{len(found.nodes)} node{'s' if len(found.nodes) != 1 else ''}" if found.nodes is not None else
            f"the GPUs of {len(found.gpus)} node{'s' if len(found.gpus) != 1 else ''}")
    if found.gpus:
        what += f" ({found.gpu_count} GPUs from ResourceSlices)"
    click.echo(f"imported {what} of cluster {cluster}: {len(summary.added)} added, "
               f"{len(summary.updated)} updated, {len(summary.unchanged)} unchanged, {len(summary.removed)} removed"
               + (f", {len(summary.kept)} gone but kept for their manual tags (state: unhealthy)"
                  if summary.kept else "")
               + (f" ({', '.join(summary.files)})" if summary.files else ""))
    return 0


@cli.command()
@click.option("--base", metavar="REV", help="Compare with this revision (default: the merge base with the default "
              "branch).")
@click.option("--head", metavar="REV", help="Compare this revision (default: the working tree).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True,
              help="text; markdown for a pull-request comment; json a Diff report for tools.")
@click.option("--name-only", is_flag=True, help="List only the clusters whose output changes.")
@click.option("--exit-code", is_flag=True, help="Exit 1 when anything changes (as `git diff --exit-code`).")
@click.pass_obj
def diff(state: State, base: str | None, head: str | None, fmt: str, name_only: bool, exit_code: bool) -> int:
    """What a change does to every cluster: objects added, removed and changed, placements, versions.

    A change to a field Kubernetes does not update in place (a StatefulSet's volumeClaimTemplates or selector, a
    Deployment's selector, a PersistentVolumeClaim's storageClassName, a Service's clusterIP, the data of an
    immutable ConfigMap or Secret) is warned of as W110, naming cluster, object and field: the cluster would
    refuse the update; a Job's is replaced instead. The objects a pinned chart renders (Helm's engine, as the
    proof renders them) are compared too, marked with the chart, its `helm.sh/chart` and
    `app.kubernetes.io/version` labels and `checksum/` annotations left out. Warnings leave the exit status
    alone."""
    from compiler.load.gitsource import default_base, open_repository
    from compiler.reports import diff as differ
    from compiler.reports.rendered import rendered

    if name_only and fmt != "text":
        raise click.UsageError("--name-only prints names: give it without --format (the json Diff lists the clusters)")

    if base is None:
        try:
            base = default_base(open_repository(state.root))
        except Exception as exc:  # no repository, or no commit yet
            raise CommandError("E903", f"cannot find a base to compare with: {exc}") from None
    results = []
    for rev in (base, head):
        result = state.compile(ref=rev)
        if result.files is None:
            if fmt == "json":  # for a tool, the errors as a report too, where it reads the diff
                click.echo(_diff_report(base, head, result, failed=rev))
                return 1
            click.echo(f"easel: the repository at {rev or 'the working tree'} has errors:", err=True)
            return finish(result, "text", None)
        results.append(result)
    charts = (rendered(results[0]), rendered(results[1]))
    changes, notes = differ.compare(results[0], results[1], charts), differ.unrendered(charts)
    base_name, head_name = base[:12], head or "working tree"
    if name_only:
        click.echo("\n".join(d.cluster for d in changes if not d.empty))
    elif fmt == "json":
        click.echo(_diff_report(base, head, results[1], changes=changes, notes=notes))
    elif fmt == "markdown":
        click.echo(differ.as_markdown(changes, base_name, head_name, notes=notes))
    else:
        click.echo(differ.as_text(changes, base_name, head_name, notes))
    return 1 if exit_code and any(not d.empty for d in changes) else 0


def _diff_report(base: str, head: str | None, result: Result, changes: list | None = None,
                 failed: str | None = None, notes: list[str] | None = None) -> str:
    """The Diff report (docs/reference/output.md): the changes, or the errors of the revision that failed
    (result is that revision's; else the head's, whose warnings it carries, with the change's own: W110)."""
    from compiler.reports import diff as differ

    ok = changes is not None
    return json.dumps(envelope("Diff", {
        "ok": ok, "base": base, "head": head, "failed": failed,
        "summary": {"clusters": len(changes), "changed": sum(not d.empty for d in changes)}
        if changes is not None else None,
        "clusters": differ.as_json(changes) if changes is not None else [],
        "unrendered": notes or [],
        "diagnostics": diagnostics_report.as_json([*result.diagnostics, *differ.warnings(changes or [])],
                                                  result.texts)}), indent=2)


@cli.command(name="publish")
@click.option("--branch", metavar="NAME", help="Commit the output to this branch (created when missing).")
@click.option("--oci", "oci_repository", metavar="REGISTRY/REPO",
              help="Push each cluster's tree as an OCI artifact REGISTRY/REPO/<cluster> instead.")
@click.option("--tag", default="latest", show_default=True, metavar="TAG",
              help="With --oci: the moving tag, beside the tag of the source revision.")
@click.option("--plain-http", is_flag=True, help="With --oci: talk to the registry over HTTP, without TLS.")
@click.option("--message", metavar="TEXT", help="The commit message.")
@click.pass_obj
def publish_command(state: State, branch: str | None, oci_repository: str | None, tag: str, plain_http: bool,
                    message: str | None) -> int:
    """Commit output/ to a branch that Argo CD or Flux follow, or push each cluster's tree to an OCI registry."""
    from compiler.commands.publish import publish_oci, publish_output

    if (branch is None) == (oci_repository is None):
        raise click.UsageError("give --branch NAME or --oci REGISTRY/REPO")
    result = without_errors(state, last_stage="render")
    if isinstance(result, int):
        return result
    if oci_repository is not None:
        pushed = publish_oci(state.root, result, oci_repository, tag, plain_http)
        changed = [p for p in pushed if p.changed]
        click.echo(f"pushed {len(changed)} of {len(pushed)} clusters to {oci_repository} "
                   f"({len(pushed) - len(changed)} unchanged)")
        for item in changed[:20]:
            click.echo(f"  {item.reference}@{item.digest}")
        if len(changed) > 20:
            click.echo(f"  … and {len(changed) - 20} more")
        return 0
    assert branch is not None  # one of the two, checked above
    count, commit = publish_output(state.root, result, branch, message)
    if commit is None:
        click.echo(f"{branch} already holds this output: nothing to commit")
    else:
        click.echo(f"published {count} files to {branch} as {commit[:12]}")
    return 0
