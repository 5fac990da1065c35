"""Errors that carry their own exit status, and how any tidelog error becomes one line on stderr.

A program raises :class:`CliError` (or :class:`UsageError`) for failures it detects itself; the
runner (:mod:`tidelog.cli.runner`) also turns every other :class:`TidelogError` the library
raises into ``<prog>: error: <message>`` and exit status 1 -- or CORRUPT (3) for record data
that fails its checks (a batch whose CRC does not match), the same code in every program as
tidelog(7)'s table says. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

from tidelog.cli.exit_codes import ExitCode
from tidelog.errors import TidelogError


class CliError(TidelogError):
    """A failure a program reports with a message and a chosen exit status."""

    def __init__(self, message: str, exit_code: int = ExitCode.ERROR) -> None:
        super().__init__(message)
        self.exit_code = int(exit_code)


class UsageError(CliError):
    """A command-line value the option parser accepted but the program cannot use."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.USAGE)


def exit_code_of(error: BaseException) -> int:
    """The exit status a program ends with after ``error``."""
    if isinstance(error, CliError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    # Looked up, not imported: importing tidelog.records costs ~0.3 s of startup, and an error
    # of that module can only exist once something has imported it.
    records_errors = sys.modules.get("tidelog.records.errors")
    if records_errors is not None and isinstance(error, records_errors.CorruptRecordError):
        return ExitCode.CORRUPT
    return ExitCode.ERROR


def describe(error: BaseException) -> str:
    """A one-line, human description of ``error`` for stderr (no traceback, no class noise
    for our own errors; OS errors name the file and the reason as ``strerror`` gives it)."""
    if isinstance(error, OSError) and error.strerror:
        if error.filename is not None:
            return f"{error.filename}: {error.strerror}"
        return error.strerror
    text = str(error).strip()
    if isinstance(error, TidelogError):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
