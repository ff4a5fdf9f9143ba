"""Errors that end a command, raised by the library and turned into an exit status in one place (cli.main).

Problems in the repository's files are not errors of this kind: they are diagnostics, collected and printed
(exit status 1). These are about the command itself.
"""

from __future__ import annotations


class CommandError(Exception):
    """The command cannot do what was asked: printed as `error[CODE]: message`, exit status 1."""

    def __init__(self, code: str, message: str, hint: bool = False):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint  # print the code's documented hint too


class BadArgument(Exception):
    """An argument names something that is not there: bad usage, exit status 2 (as click's BadParameter)."""

    def __init__(self, message: str, param_hint: str):
        super().__init__(message)
        self.message = message
        self.param_hint = param_hint
