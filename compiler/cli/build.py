"""The commands that compile: validate, compile, build, lock, and the rollout steps."""

from __future__ import annotations

import json

import click

from compiler.cli import completion, lookup
from compiler.cli.common import FORMAT, REF, TEXT_OR_JSON, State, cli, finish, print_diagnostics, without_errors
from compiler.commands import compiling as workflow
from compiler.pipeline import Request, RolloutStep
from compiler.plan.shards import Shard
from compiler.prove import kustomize
from compiler.render import cluster_files
from compiler.reports import envelope
from compiler.reports.rollouts import rollout_rows, rollout_text
from compiler.runtime import progress


@cli.command()
@FORMAT
@REF
@click.pass_obj
def validate(state: State, fmt: str, ref: str | None) -> int:
    """Check the repository as `compile` does, writing nothing, and report every problem it would."""
    with progress.shown():
        result, summary = workflow.validate(state.source(ref), state.cache(), state.root)
    return finish(result, fmt, summary, "ValidationReport")


def _compile_and_write(state: State, fmt: str, request: Request = Request(), check: bool = False,
                       locked: bool = False, out_dir: str | None = None, ref: str | None = None) -> int:
    target = workflow.Target(state.root, out_dir, preview=bool(out_dir or ref))
    with progress.shown():
        result, summary = workflow.compile_and_write(state.source(ref), target, request, check=check,
                                                     locked=locked, store=state.cache())
    return finish(result, fmt, summary)


@cli.command(name="compile")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when the output folder is not up to date.")
@click.option("--locked", is_flag=True, help="Exit 1, writing nothing, when easel.lock would change (for CI).")
@click.option("--out", "out_dir", metavar="DIR", help="Write here instead of the configured output folder.")
@click.option("--shard", metavar="I/N", help="Decide for the whole fleet, render and write only the clusters of "
              "shard I of N (stable by cluster name): for N parallel CI jobs.")
@FORMAT
@REF
@click.pass_obj
def compile_command(state: State, check: bool, locked: bool, out_dir: str | None, shard: str | None, fmt: str,
                    ref: str | None) -> int:
    """Compile the repository into its output folder."""
    if out_dir == "-":  # not a folder named "-"
        raise click.BadParameter("standard output is not a folder: give a folder", param_hint="--out")
    request = Request(shard=Shard.parse(shard)) if shard else Request()
    return _compile_and_write(state, fmt, request, check=check, locked=locked, out_dir=out_dir, ref=ref)


@cli.command(name="build")
@click.argument("cluster", shell_complete=completion.clusters)
@REF
@click.pass_obj
def build_command(state: State, cluster: str, ref: str | None) -> int:
    """Print CLUSTER's objects on standard output: those `kubectl kustomize` prints, in its order, keys sorted
    (quoting as easel writes YAML); nothing is written."""
    with progress.shown():
        result = state.compile(Request(last_stage="plan"), ref=ref)
    if result.model is not None:  # a name mistyped, or a cluster whose file failed: said before the other errors
        lookup.cluster(result, cluster, result.model.clusters)
    if not result.ok or result.plans is None:
        return finish(result, "text", None)
    lookup.cluster(result, cluster, result.plans.clusters)
    try:
        text = kustomize.build(cluster_files(result.plans, cluster), f"clusters/{cluster}")
    except kustomize.UnsupportedTree as exc:  # easel wrote something it cannot read back: a bug
        raise RuntimeError(str(exc)) from None
    print_diagnostics(result.texts, result.diagnostics, "text")  # the warnings, on standard error
    click.echo(text, nl=False)
    return 0


@cli.command()
@click.option("--update", "update", is_flag=False, flag_value="*", default=None, metavar="[PROFILE]",
              help="Move workloads to the newest allowed profile versions (of PROFILE only, when named).")
@FORMAT
@click.pass_obj
def lock(state: State, update: str | None, fmt: str) -> int:
    """Write easel.lock (and output/) for the repository as it is, or with --update newer versions."""
    return _compile_and_write(state, fmt, Request(update=update))


@cli.group()
def rollout() -> None:
    """Progressive rollouts of new profile versions (environments with `rollout.strategy: progressive`)."""


@rollout.command(name="status")
@TEXT_OR_JSON
@click.pass_obj
def rollout_status(state: State, fmt: str) -> int:
    """Every rollout: workload, from -> to, wave k of n, the clusters of each wave."""
    result = without_errors(state)
    if isinstance(result, int):
        return result
    rows = rollout_rows(result.decisions)
    click.echo(json.dumps(envelope("RolloutStatus", {"rollouts": rows}), indent=2) if fmt == "json"
               else rollout_text(rows))
    return 0


@rollout.command(name="advance")
@click.argument("workloads", nargs=-1, shell_complete=completion.rollouts)
@click.option("--all", "everything", is_flag=True, help="Advance every rollout in progress.")
@FORMAT
@click.pass_obj
def rollout_advance(state: State, workloads: tuple[str, ...], everything: bool, fmt: str) -> int:
    """Move the rollout of WORKLOAD (or --all) one wave on; once every cluster runs the new version, it is
    complete."""
    if not workloads and not everything:
        raise click.UsageError("give a WORKLOAD or --all")
    return _compile_and_write(state, fmt, Request(rollout=RolloutStep("advance", workloads, everything)))


@rollout.command(name="rollback")
@click.argument("workloads", nargs=-1, required=True, shell_complete=completion.rollouts)
@FORMAT
@click.pass_obj
def rollout_rollback(state: State, workloads: tuple[str, ...], fmt: str) -> int:
    """Return every wave of WORKLOAD's rollout to the version it came from."""
    return _compile_and_write(state, fmt, Request(rollout=RolloutStep("rollback", workloads)))
