"""`easel completion bash|zsh|fish`: click's completion script for the shell, and the names it completes from
the repository (workloads, clusters, kinds, rollouts in progress). Completing reads the input documents only (no
compile), and quietly offers nothing in a folder that is no config repository."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click
from click.shell_completion import CompletionItem, get_completion_class

from compiler.cli.common import cli

SHELLS = ("bash", "zsh", "fish")


def _names(ctx: click.Context, kinds: tuple[str, ...]) -> list[str]:
    """The names of the repository's documents of these kinds (workloads as project/name)."""
    from compiler.load import load
    from compiler.load.source import DirectorySource

    root = ctx.find_root()
    directory = Path(root.params.get("directory") or ".")
    try:
        raw = load(DirectorySource(directory.resolve()))
    except Exception:  # completion never fails loudly
        return []
    found = set()
    for document in raw.documents:
        data = _mapping(document.data)
        name = _mapping(data.get("metadata")).get("name")
        if data.get("kind") in kinds and isinstance(name, str):
            project = _mapping(data.get("spec")).get("project")
            found.add(f"{project}/{name}" if data["kind"] == "Workload" and isinstance(project, str) else name)
    return sorted(found)


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def workloads(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """project/name, and the bare name where no other project has a workload of that name (as explain and build
    take it)."""
    ids = _names(ctx, ("Workload",))
    counted = Counter(i.partition("/")[2] for i in ids)
    unique = sorted(name for name, count in counted.items() if count == 1)
    offered = ids if "/" in incomplete else sorted({*ids, *unique})
    return [CompletionItem(n) for n in offered if n.startswith(incomplete)]


def rollouts(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The workloads whose rollout is in progress, as easel.lock records them (what advance and rollback take)."""
    from compiler.record.lockfile import LOCK_FILE, parse

    directory = Path(ctx.find_root().params.get("directory") or ".")
    try:
        decisions, _ = parse((directory / LOCK_FILE).read_text(encoding="utf-8"))
    except Exception:  # no lock, or an unreadable one: nothing to offer
        return []
    return [CompletionItem(w) for w, d in sorted(decisions.workloads.items())
            if d.rollout is not None and w.startswith(incomplete)]


def clusters(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(n) for n in _names(ctx, ("Cluster",)) if n.startswith(incomplete)]


def kinds(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    from compiler import schemas

    return [CompletionItem(k) for k in sorted(schemas.SPECS) if k.startswith(incomplete)]


def schema_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """What `easel schema` takes: the kinds, then the built-in components and traits."""
    from compiler.commands.editor import builtin_names

    builtins = sorted(name for names in builtin_names().values() for name in names)
    return [*kinds(ctx, param, incomplete), *(CompletionItem(n) for n in builtins if n.startswith(incomplete))]


@cli.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> int:
    """Print the shell completion script: `eval "$(easel completion bash)"` (zsh alike), or
    `easel completion fish | source`. It completes commands, options, workloads, clusters and kinds."""
    kind = get_completion_class(shell)
    if kind is None:  # pragma: no cover  (click.Choice admits only the shells click knows)
        raise click.UsageError(f"no completion for {shell}")
    script = kind(cli, {}, "easel", "_EASEL_COMPLETE")
    click.echo(script.source())
    return 0
