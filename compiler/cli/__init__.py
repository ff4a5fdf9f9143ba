"""The command line: thin commands that parse options, call one library function, print its result and return
an exit status. `main` turns that status, and every error a command raises, into the process's exit status, in
this one place: 0 success; 1 the repository has errors (or --check/--locked found a difference, or the command
cannot do what was asked); 2 bad usage.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback

import click

from compiler.cli import build, charts, completion, inspect, report, repository  # noqa: F401  (the commands register themselves on `cli`)
from compiler.cli.common import cli
from compiler.diagnostics import formats
from compiler.diagnostics.codes import CODES
from compiler.diagnostics.errors import CommandError


def _exit_status(argv: list[str] | None) -> int:
    try:
        status = cli.main(args=argv, prog_name="easel", standalone_mode=False)
    except click.ClickException as exc:  # bad usage (2), as click itself would print it
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return 1
    except OSError as exc:  # a closed pipe (`easel explain ... | head`) ends quietly, as click has it
        if exc.errno != errno.EPIPE:
            raise
        return 1
    except CommandError as exc:
        if exc.causes:
            click.echo(formats.text(exc.causes, exc.texts), err=True)
        click.echo(f"error[{exc.code}]: {exc.message}", err=True)
        if exc.hint_text:
            click.echo(f"  hint: {exc.hint_text}", err=True)
        return 1
    return status if isinstance(status, int) else 0


MEMORY_LIMIT = 8 << 30  # bytes of address space the process may take: a runaway template stops at it


def _bound_memory() -> None:
    """A ceiling on the process's memory, so that input that asks for unbounded memory (a template doubling a
    string) ends in MemoryError, which easel reports, and not in the machine swapping. Kept when lower."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        wanted = MEMORY_LIMIT if hard == resource.RLIM_INFINITY else min(MEMORY_LIMIT, hard)
        if soft == resource.RLIM_INFINITY or soft > wanted:
            resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
    except (ImportError, ValueError, OSError):
        pass


def main(argv: list[str] | None = None) -> None:
    """The console script; argv defaults to the process's arguments."""
    _bound_memory()
    try:
        status = _exit_status(argv)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        status = 130
    except MemoryError:
        click.echo(f"error[E906]: more than {MEMORY_LIMIT >> 30} GiB of memory asked for: stopped", err=True)
        click.echo(f"  hint: {CODES['E906'].hint}", err=True)
        status = 1
    except Exception:  # a bug, not bad input: say so in one line
        if os.environ.get("EASEL_DEBUG"):
            traceback.print_exc()
        click.echo(f"error[E999]: internal error: {sys.exc_info()[1]!r}", err=True)
        click.echo(f"  hint: {CODES['E999'].hint}", err=True)
        status = 1
    sys.exit(status)

