"""Errors that end a command, raised by the library and turned into an exit status in one place (cli.main).

Problems in the repository's files are not errors of this kind: they are diagnostics, collected and printed
(exit status 1). These are about the command itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from compiler.diagnostics import Diagnostic
from compiler.diagnostics.codes import CODES


class CommandError(Exception):
    """The command cannot do what was asked: printed as `error[CODE]: message`, exit status 1; after causes, the
    diagnostics that explain it (a workload named whose document failed to load: that document's errors), printed
    first at their places in texts."""

    def __init__(self, code: str, message: str, hint: bool | str = False, causes: Sequence[Diagnostic] = (),
                 texts: Mapping[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint  # a hint of its own, or True: the code's documented hint
        self.causes = tuple(causes)
        self.texts = dict(texts or {})

    @property
    def hint_text(self) -> str | None:
        """The hint to print, if any."""
        if isinstance(self.hint, str):
            return self.hint
        return CODES[self.code].hint if self.hint else None


class BadArgument(Exception):
    """An argument names something that is not there: bad usage, exit status 2 (as click's BadParameter)."""

    def __init__(self, message: str, param_hint: str):
        super().__init__(message)
        self.message = message
        self.param_hint = param_hint
