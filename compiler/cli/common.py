"""What every command shares: the `cli` group, the repository's folder (-C), the options used by several
commands, and printing diagnostics with the exit status they give."""

from __future__ import annotations

import json
from pathlib import Path

import click

from compiler import __version__
from compiler.commands.summaries import Summary
from compiler.diagnostics import Diagnostics, error
from compiler.diagnostics import formats as report
from compiler.diagnostics.errors import BadArgument, CommandError
from compiler.load import DEFAULT_INPUTS
from compiler.load.source import DirectorySource, Source
from compiler.pipeline import LastStage, Request, Result, compile_repository
from compiler.reports import envelope
from compiler.runtime import progress
from compiler.runtime.cache import Cache
from compiler.write import transaction

FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json", "github", "sarif"]), default="text",
                      show_default=True, help="How to print the outcome: text; json (a report, for tools); github "
                      "(GitHub Actions annotations); sarif (SARIF 2.1.0, for code scanning).")
REF = click.option("--ref", metavar="REV", help="Read the repository as it is at this git commit, branch or tag.")
TEXT_OR_JSON = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
                            help="text for people; json a versioned report for tools (docs/reference/output.md).")


class State:
    """What every command shares: the repository's folder (-C), and whether to wait for another easel on it."""

    def __init__(self, directory: str, wait: bool = True, use_cache: bool = True):
        self.root = Path(directory).resolve()
        self.wait = wait
        self.use_cache = use_cache
        self.held = False

    def cache(self) -> Cache:
        """The repository's `.easel-cache/` (cache.py); none with --no-cache."""
        return Cache.at(self.root, self.use_cache)

    def hold(self) -> None:
        """Take the repository for this command: one easel at a time (transaction.py), and a write an
        interrupted easel left completed or undone first."""
        if self.held:
            return
        try:
            click.get_current_context().with_resource(transaction.exclusive(
                self.root, self.wait, lambda: click.echo("easel: waiting for another easel run on this repository …",
                                                         err=True)))
        except transaction.Busy as exc:
            raise CommandError("E905", str(exc), hint=True) from None
        self.held = True
        try:
            done = transaction.recover(self.root)
        except OSError as exc:
            raise CommandError("E802", f"cannot finish an interrupted write: {exc}") from None
        if done:
            click.echo(f"easel: {done}", err=True)

    def source(self, ref: str | None = None) -> Source:
        """The repository as it is on disk, or at a git revision (through libgit2, without a checkout)."""
        if not self.root.is_dir():
            raise click.UsageError(f"{self.root} is not a folder")
        if ref is None and not is_config_repository(self.root):  # before anything is taken or written
            raise CommandError("E902", f"{self.root} is not a config repository: it has no easel.yaml and none of "
                               f"the folders {', '.join(DEFAULT_INPUTS)}; nothing was read or written", hint=True)
        self.hold()
        if ref is None:
            return DirectorySource(self.root)
        from compiler.load.gitsource import GitSource, RevisionError

        try:
            return GitSource(self.root, ref)
        except RevisionError as exc:
            raise CommandError("E903", str(exc), hint=True) from None

    def compile(self, request: Request = Request(), ref: str | None = None) -> Result:
        return compile_repository(self.source(ref), request, progress)


def is_config_repository(root: Path) -> bool:
    return (root / "easel.yaml").is_file() or any((root / folder).is_dir() for folder in DEFAULT_INPUTS)


def print_diagnostics(texts: dict[str, str], diagnostics: Diagnostics, fmt: str) -> None:
    if fmt == "sarif":
        click.echo(report.sarif(diagnostics, texts))
        return
    if not len(diagnostics):
        return
    click.echo(report.RENDERERS[fmt](diagnostics, texts), err=fmt == "text")


def finish(result: Result, fmt: str, summary: Summary | None, kind: str = "CompileReport") -> int:
    """Print the diagnostics, and the summary when there are no errors (as json: one `kind` report holding
    both); the exit status."""
    errors = result.diagnostics.error_count
    if fmt == "json":
        click.echo(json_report(result, summary if not errors else None, kind))
        return 1 if errors else 0
    print_diagnostics(result.texts, result.diagnostics, fmt)
    if errors:
        if fmt == "text":
            click.echo(f"easel: {errors} error{'s' if errors != 1 else ''}", err=True)
        return 1
    if summary and fmt != "sarif":
        click.echo(summary.text, err=fmt == "github")
    return 0


def json_report(result: Result, summary: Summary | None, kind: str) -> str:
    """A ValidationReport or CompileReport (docs/reference/output.md): whether the run succeeded, what it did,
    and every diagnostic."""
    errors = result.diagnostics.error_count
    return json.dumps(envelope(kind, {
        "ok": not errors, "errors": errors, "warnings": len(result.diagnostics) - errors,
        "summary": summary.data if summary else None,
        "diagnostics": report.as_json(result.diagnostics, result.texts)}), indent=2)


def without_errors(state: State, last_stage: LastStage = "decide") -> Result | int:
    """The compile result, up to last_stage; or, when the repository has errors, the exit status after printing
    them."""
    result = state.compile(Request(last_stage=last_stage))
    if result.diagnostics.has_errors:
        return finish(result, "text", None)
    return result


class _Command(click.Command):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BadArgument as exc:  # shown as click shows a bad parameter, with this command's usage
            raise click.BadParameter(exc.message, ctx=ctx, param_hint=exc.param_hint) from None
        except CommandError as exc:  # a tool that asked for a report gets one (main prints the text too)
            if ctx.params.get("fmt") in ("json", "sarif"):
                click.echo(failure_report(exc, ctx.params["fmt"]))
            raise


def failure_report(exc: CommandError, fmt: str) -> str:
    """What `--format json|sarif` prints when the command stops before it has its report (E9xx: an unknown
    workload or cluster, a bad --ref, a busy repository): a Failure holding the one error, or SARIF of it."""
    found = Diagnostics([*exc.causes, error(exc.code, exc.message, hint=exc.hint if isinstance(exc.hint, str)
                                            else None)])  # else with the code's hint
    if fmt == "sarif":
        return report.sarif(found, exc.texts)
    errors = found.error_count
    return json.dumps(envelope("Failure", {"ok": False, "errors": errors, "warnings": len(found) - errors,
                                           "summary": None, "diagnostics": report.as_json(found, exc.texts)}),
                      indent=2)


GLOBAL_FLAGS = ("--no-wait", "--no-cache")


def globals_first(args: list[str]) -> list[str]:
    """The arguments with easel's global options (-C DIR, --no-wait, --no-cache) written after the subcommand
    moved before it, where click reads them: `easel compile -C repo` is `easel -C repo compile`."""
    front: list[str] = []
    rest: list[str] = []
    command_seen = False
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--":
            rest += args[index:]
            break
        if not command_seen:
            rest.append(token)
            if token == "-C" and index + 1 < len(args):
                rest.append(args[index + 1])
                index += 1
            elif not token.startswith("-"):
                command_seen = True
        elif token in GLOBAL_FLAGS or (token.startswith("-C") and len(token) > 2):
            front.append(token)
        elif token == "-C" and index + 1 < len(args):
            front += [token, args[index + 1]]
            index += 1
        else:
            rest.append(token)
        index += 1
    return front + rest


class _Group(click.Group):
    command_class = _Command
    group_class = type  # groups inside it are of this class too

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, globals_first(args) if ctx.parent is None else args)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "directory", default=".", metavar="DIR", help="Run as if easel was started in DIR.")
@click.option("--no-wait", is_flag=True, help="Fail at once if another easel run holds the repository.")
@click.option("--no-cache", is_flag=True, envvar="EASEL_NO_CACHE",
              help="Neither read nor write .easel-cache/ (the same output, slower; or set EASEL_NO_CACHE=1).")
@click.version_option(__version__, prog_name="easel")
@click.pass_context
def cli(ctx: click.Context, directory: str, no_wait: bool, no_cache: bool) -> None:
    """easel: compile a GitOps config repository of AI/ML stacks into per-cluster Flux and Argo CD trees."""
    ctx.obj = State(directory, wait=not no_wait, use_cache=not no_cache)
