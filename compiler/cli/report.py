"""`easel report --out DIR`: the fleet report as one static HTML page, DIR/index.html."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from ..errors import CommandError
from ..reports import html_report
from .common import State, cli, finish, without_errors

PAGE = "index.html"  # the only file written: no name read from the repository becomes a path


@cli.command()
@click.option("--out", "out_dir", metavar="DIR", required=True,
              help=f"The folder to write {PAGE} in (created when missing; relative to the repository).")
@click.pass_obj
def report(state: State, out_dir: str) -> int:
    """Write a static HTML fleet report: GPUs, quotas, placement, rollouts and stacks, in one file."""
    if out_dir == "-":
        raise click.BadParameter("standard output is not a folder: give a folder", param_hint="--out")
    result = without_errors(state)
    if isinstance(result, int):
        return result
    page = html_report.render(html_report.report_data(result))
    out = Path(out_dir)
    target = (out if out.is_absolute() else state.root / out) / PAGE
    _write(target, page)
    status = finish(result, "text", None)  # the warnings, if any
    click.echo(f"wrote {target}")
    return status


def _write(target: Path, text: str) -> None:
    """Write through a temporary file beside it, so that a reader never sees half a page."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".easel-", suffix=".html", dir=target.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as exc:
        raise CommandError("E802", f"cannot write {target}: {exc.strerror or exc}") from None
