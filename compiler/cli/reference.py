"""docs/reference/cli.md, made from the commands themselves (their usage, help and options, as `--help` prints
them), so that the reference cannot drift from the command line: `python -m compiler.cli.reference` prints it,
and a test fails when the committed file differs."""

from __future__ import annotations

import inspect

import click

from compiler.cli import cli

HEADER = """# Command line reference

Generated from easel's commands by `python -m compiler.cli.reference > docs/reference/cli.md`; a test fails
when it is stale. `easel COMMAND --help` prints the same for one command.

Global options (`-C DIR`, `--no-wait`, `--no-cache`) may come before or after the subcommand.

## Exit status

| status | meaning |
|---|---|
| 0 | success |
| 1 | the repository has errors; or `--check` / `--locked` found a difference; or `diff --exit-code` found a change; or the command cannot do what was asked (an unknown workload or cluster: E901; a rollout step without a rollout: E908; a folder that is not a config repository: E902, nothing written) |
| 2 | bad usage (an unknown option, a missing argument, a bad value) |
| 130 | interrupted |

## Environment

| variable | effect |
|---|---|
| `EASEL_NO_CACHE=1` | as `--no-cache`: neither read nor write `.easel-cache/` |
| `EASEL_DEBUG=1` | an internal error prints its traceback |
"""


def _options(command: click.Command, ctx: click.Context) -> list[str]:
    rows = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
        if record is None:  # arguments: the usage line shows them
            continue
        names, text = (part.replace("|", "\\|") for part in record)  # table cells
        rows.append(f"| `{names}` | {text} |")
    return (["", "| option | meaning |", "|---|---|", *rows]) if rows else []


def _section(command: click.Command, path: list[str], parent: click.Context | None) -> list[str]:
    # the root's context settings (-h beside --help), inherited by every subcommand's context, as when run
    ctx = click.Context(command, info_name=path[-1], parent=parent,
                        **(command.context_settings if parent is None else {}))
    lines = [f"{'#' * min(len(path) + 1, 4)} `{' '.join(path)}`", "", "```",
             " ".join(command.collect_usage_pieces(ctx)).join([f"{' '.join(path)} ", ""]).rstrip(), "```", ""]
    if command.help:
        lines.append(" ".join(inspect.cleandoc(command.help).split()))
    lines += _options(command, ctx)
    lines.append("")
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if sub is not None:
                lines += _section(sub, [*path, name], ctx)
    return lines


def markdown() -> str:
    return HEADER + "\n" + "\n".join(_section(cli, ["easel"], None)).rstrip() + "\n"


if __name__ == "__main__":
    click.echo(markdown(), nl=False)
