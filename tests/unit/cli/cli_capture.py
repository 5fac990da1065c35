"""Run a program body or the dump engine in-process and capture status, stdout and stderr."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tidelog.cli.diagnostics import Diagnostics
from tidelog.cli.dump.dumper import dump_files
from tidelog.cli.dump.settings import DumpOptions
from tidelog.cli.output import Output
from tidelog.cli.runner import Program, run_body


@dataclass
class Captured:
    status: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


Runner = Callable[..., Captured]


def capture(body: Callable[[Program], int | None], level: int = 0) -> Captured:
    raw = io.BytesIO()
    err = io.StringIO()
    out = Output(raw)
    diag = Diagnostics("log-dump-segment", level, before_write=out.flush_quietly, stream=err)
    status = run_body(Program(out, diag), body)
    return Captured(status, raw.getvalue().decode("utf-8"), err.getvalue())


def dump_runner() -> Runner:
    """``run(files, level=0, print_data=..., ...)`` -> Captured, without a subprocess."""

    def run(files: Sequence[object], level: int = 0, **options: object) -> Captured:
        opts = DumpOptions(**options)  # type: ignore[arg-type]
        return capture(lambda prog: dump_files(prog, [str(f) for f in files], opts), level)

    return run
