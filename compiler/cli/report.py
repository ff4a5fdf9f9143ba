"""`easel report --out DIR`: the fleet report as one static HTML page, DIR/index.html."""

from __future__ import annotations

import click

from compiler.cli.common import State, cli, print_diagnostics, without_errors
from compiler.reports import html_report
from compiler.write.files import out_folder, replace_text

PAGE = "index.html"  # the only file written: no name read from the repository becomes a path


@cli.command()
@click.option("--out", "out_dir", metavar="DIR", required=True,
              help=f"The folder to write {PAGE} in (created when missing; relative to the repository).")
@click.pass_obj
def report(state: State, out_dir: str) -> int:
    """Write a static HTML fleet report: GPUs, quotas, placement, rollouts and stacks, in one file."""
    folder = out_folder(state.root, out_dir)
    result = without_errors(state)
    if isinstance(result, int):
        return result
    page = html_report.render(html_report.report_data(result))
    target = folder / PAGE
    replace_text(target, page)
    print_diagnostics(result.texts, result.diagnostics, "text")  # the warnings, on standard error
    click.echo(f"wrote {target}")
    return 0
