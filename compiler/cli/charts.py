"""`easel charts pull`: fetch and pin the chart archives the profiles use (commands/chart_pull/)."""

from __future__ import annotations

import click

from compiler.cli.common import State, cli, print_diagnostics


@cli.group()
def charts() -> None:
    """Chart archives: fetched from their repositories and pinned in easel.lock, for compiling without the
    network."""


@charts.command(name="pull")
@click.option("--update", is_flag=True, help="Fetch every chart again and pin what its repository serves now "
              "(without it, a chart whose archive is there and pinned is not fetched, and a pinned chart must be "
              "fetched as the very bytes pinned).")
@click.option("--plain-http", is_flag=True, help="Talk to OCI registries over HTTP, without TLS (a registry on "
              "this machine, 127.0.0.1 or localhost, always is).")
@click.pass_obj
def charts_pull(state: State, update: bool, plain_http: bool) -> int:
    """Fetch every chart version the profiles use into charts.path (or easel's cache, with `charts.commit: false`)
    and pin each archive's digest in easel.lock. All or nothing: on any error nothing is written."""
    from compiler.commands import chart_pull

    pulled = chart_pull.pull(state.root, state.source(), update=update, plain_http=plain_http)
    print_diagnostics(pulled.texts, pulled.diagnostics, "text")
    if pulled.diagnostics.has_errors:
        errors = pulled.diagnostics.error_count
        click.echo(f"easel: {errors} error{'s' if errors != 1 else ''}; nothing was written", err=True)
        return 1
    for line in pulled.lines:
        click.echo(line)
    click.echo(pulled.summary)
    return 0
