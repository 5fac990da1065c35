"""Diagnostics on stderr: errors, warnings, notes and debug lines, gated by -q / -v.

Format: one line per message, ``<prog>: <level>: <text>`` (``note`` and ``debug`` lines carry
their level too), never wrapped, coloured only when stderr is a terminal (rich decides). The
text is printed literally: rich markup in file names or messages is not interpreted.

Levels: ``-q`` shows errors only; the default shows errors, warnings and notes; ``-v`` adds
info lines; ``-vv`` adds debug lines. rich is imported on the first message, not before, so a
program that prints nothing on stderr never pays for it.

Before each message the ``before_write`` hook runs (programs pass their stdout writer's
``flush_quietly``), so on a terminal the data printed so far appears before the message about
what comes next.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console

QUIET = -1
NORMAL = 0
VERBOSE = 1
DEBUG = 2

_STYLES = {
    "error": "bold red",
    "warning": "yellow",
    "note": "cyan",
    "info": "",
    "debug": "dim",
}


def verbosity(quiet: bool, verbose: int) -> int:
    """Turn the -q flag and the -v count into a level (QUIET, NORMAL, VERBOSE, DEBUG...)."""
    return QUIET if quiet else verbose


class Diagnostics:
    """Messages for people, on stderr."""

    def __init__(
        self,
        prog: str,
        level: int = NORMAL,
        *,
        before_write: Callable[[], None] | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.prog = prog
        self.level = level
        self._before_write = before_write
        self._stream = stream
        self._console: Console | None = None
        self.errors = 0
        self.warnings = 0

    def error(self, message: str) -> None:
        """Always shown, even with -q."""
        self.errors += 1
        self._emit("error", message)

    def warning(self, message: str) -> None:
        """Something the user should know; hidden by -q."""
        self.warnings += 1
        if self.level >= NORMAL:
            self._emit("warning", message)

    def note(self, message: str) -> None:
        """A hint (how to see more, what was skipped); hidden by -q."""
        if self.level >= NORMAL:
            self._emit("note", message)

    def info(self, message: str) -> None:
        """Progress and context, shown with -v."""
        if self.level >= VERBOSE:
            self._emit("info", message)

    def debug(self, message: str) -> None:
        """Internals, shown with -vv."""
        if self.level >= DEBUG:
            self._emit("debug", message)

    def _emit(self, kind: str, message: str) -> None:
        if self._before_write is not None:
            self._before_write()
        console = self._get_console()
        from rich.text import Text

        line = Text(f"{self.prog}: ")
        line.append(f"{kind}: ", style=_STYLES[kind])
        line.append(message)
        # A closed stderr (BrokenPipe, ValueError on a closed file) leaves nobody to tell.
        with contextlib.suppress(BrokenPipeError, ValueError):
            console.print(line, soft_wrap=True, highlight=False)

    def _get_console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            stream = self._stream if self._stream is not None else sys.stderr
            self._console = Console(file=stream, stderr=stream is sys.stderr, highlight=False)
        return self._console
