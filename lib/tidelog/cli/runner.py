"""Run a program's body with the shared conventions: exit codes, Ctrl-C, closed stdout, errors.

A tool's typer command parses its options, then hands a body function to :func:`run_program`::

    @app.command()
    def main(files: ..., json: options.Json = False, quiet: options.Quiet = False,
             verbose: options.Verbose = 0) -> None:
        run_program("log-dump-segment", lambda prog: dump(prog, files), quiet=quiet,
                    verbose=verbose)

The body writes data with ``prog.out`` and messages with ``prog.diag``, records problems it
got past with ``prog.fail(code)`` and may return an exit status. The runner always ends the
process with SystemExit:

* normal end: the returned status, else the worst status recorded with ``fail`` (0 if none);
* stdout closed by its reader: quietly, with the status so far;
* Ctrl-C: what was written is flushed, ``interrupted`` on stderr, status 130;
* :class:`~tidelog.cli.errors.CliError`: its message and its exit code;
* any other :class:`~tidelog.errors.TidelogError` or OSError: its message, status 1.

Other exceptions are bugs and propagate with their traceback. Usage errors found by the option
parser never reach the body: click prints them on stderr and exits 2 itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn

from tidelog.cli.diagnostics import Diagnostics, verbosity
from tidelog.cli.errors import describe, exit_code_of
from tidelog.cli.exit_codes import ExitCode, worst
from tidelog.cli.output import Output, StdoutClosed
from tidelog.errors import TidelogError


@dataclass
class Program:
    """What a running program's body works with."""

    out: Output
    diag: Diagnostics
    status: int = field(default=0)

    def fail(self, code: int) -> None:
        """Record a problem the program got past; the run ends with the worst one."""
        self.status = worst(self.status, int(code))


def make_program(
    prog: str, *, quiet: bool = False, verbose: int = 0, output: Output | None = None
) -> Program:
    """A Program writing to stdout and stderr, with diagnostics ordered after flushed data."""
    out = output if output is not None else Output()
    diag = Diagnostics(prog, verbosity(quiet, verbose), before_write=out.flush_quietly)
    return Program(out, diag)


def run_body(program: Program, body: Callable[[Program], int | None]) -> int:
    """Run ``body`` under the conventions above and return the exit status (no SystemExit)."""
    try:
        returned = body(program)
        program.out.flush()
    except StdoutClosed:
        return program.status
    except KeyboardInterrupt:
        program.out.flush_quietly()
        program.diag.error("interrupted")
        return ExitCode.INTERRUPTED
    except (TidelogError, OSError) as exc:
        if isinstance(exc, BrokenPipeError):
            return program.status
        program.diag.error(describe(exc))
        return worst(program.status, exit_code_of(exc))
    return program.status if returned is None else int(returned)


def run_program(
    prog: str,
    body: Callable[[Program], int | None],
    *,
    quiet: bool = False,
    verbose: int = 0,
    output: Output | None = None,
) -> NoReturn:
    """Run ``body`` and end the process with its exit status."""
    program = make_program(prog, quiet=quiet, verbose=verbose, output=output)
    raise SystemExit(run_body(program, body))
