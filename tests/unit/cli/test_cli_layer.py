"""The shared program layer: exit codes, stdout writer, diagnostics, runner, bootstrap, tables."""

from __future__ import annotations

import io

import orjson
import pytest
from cli_capture import capture
from tidelog.cli.bootstrap import DEFAULT_PORT, HostPort, parse_bootstrap
from tidelog.cli.diagnostics import DEBUG, NORMAL, QUIET, VERBOSE, Diagnostics, verbosity
from tidelog.cli.errors import CliError, UsageError, describe, exit_code_of
from tidelog.cli.exit_codes import FIRST_PROGRAM_CODE, ExitCode, worst
from tidelog.cli.output import Output, StdoutClosed
from tidelog.cli.runner import Program, run_body
from tidelog.cli.tables import write_table
from tidelog.errors import TidelogError


def test_exit_code_table() -> None:
    # One code per condition, the same in every program (tidelog(7), EXIT STATUS).
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 130]
    assert (ExitCode.NOT_FOUND, ExitCode.EXISTS, ExitCode.INTERRUPTED) == (5, 6, 130)
    assert FIRST_PROGRAM_CODE == 3
    assert worst() == 0
    assert worst(0, 3, 1) == 3


class _ClosedPipe(io.BytesIO):
    def write(self, data: bytes) -> int:  # type: ignore[override]
        raise BrokenPipeError(32, "Broken pipe")


def test_output_buffers_and_writes_json_lines() -> None:
    raw = io.BytesIO()
    out = Output(raw, buffer_size=1024)
    out.line("héllo")
    out.json({"a": 1, "b": [True, None]})
    out.lines(["x", "y"])
    assert raw.getvalue() == b""  # still buffered
    out.flush()
    lines = raw.getvalue().split(b"\n")
    assert lines[0] == "héllo".encode()
    assert orjson.loads(lines[1]) == {"a": 1, "b": [True, None]}
    assert lines[2:] == [b"x", b"y", b""]


def test_output_flushes_when_the_buffer_fills() -> None:
    raw = io.BytesIO()
    out = Output(raw, buffer_size=10)
    out.line("123456789")  # 10 bytes with the newline
    assert raw.getvalue() == b"123456789\n"


def test_output_autoflush() -> None:
    raw = io.BytesIO()
    out = Output(raw, autoflush=True)
    out.line("a")
    assert raw.getvalue() == b"a\n"


class _ShortWrites(io.BytesIO):
    """A raw stream that takes at most 3 bytes per write, like an unbuffered FileIO
    interrupted by signals."""

    def write(self, data: bytes | memoryview) -> int:  # type: ignore[override]
        return super().write(bytes(data[:3]))


def test_output_writes_everything_through_short_writes() -> None:
    raw = _ShortWrites()
    out = Output(raw, buffer_size=4)
    out.line("hello, world")
    out.json({"k": [1, 2]})
    out.flush()
    assert raw.getvalue() == b'hello, world\n{"k":[1,2]}\n'


def test_closed_pipe_raises_stdout_closed_once_and_after() -> None:
    out = Output(_ClosedPipe())
    out.line("a")
    with pytest.raises(StdoutClosed):
        out.flush()
    assert out.closed
    with pytest.raises(StdoutClosed):
        out.line("b")
    out.flush_quietly()  # never raises


def test_surrogate_escaped_names_round_trip() -> None:
    raw = io.BytesIO()
    out = Output(raw)
    name = b"caf\xe9.log".decode("utf-8", "surrogateescape")
    out.line(name)
    out.flush()
    assert raw.getvalue() == b"caf\xe9.log\n"


@pytest.mark.parametrize(
    ("level", "shown"),
    [
        (QUIET, ["error"]),
        (NORMAL, ["error", "warning", "note"]),
        (VERBOSE, ["error", "warning", "note", "info"]),
        (DEBUG, ["error", "warning", "note", "info", "debug"]),
    ],
)
def test_diagnostics_levels(level: int, shown: list[str]) -> None:
    err = io.StringIO()
    diag = Diagnostics("prog", level, stream=err)
    diag.error("e [bold]x[/bold]")
    diag.warning("w")
    diag.note("n")
    diag.info("i")
    diag.debug("d")
    lines = err.getvalue().splitlines()
    assert [line.split(": ")[1] for line in lines] == shown
    # Markup is printed literally, never interpreted.
    assert lines[0] == "prog: error: e [bold]x[/bold]"
    assert diag.errors == 1 and diag.warnings == 1


def test_diagnostics_never_wrap_long_lines() -> None:
    err = io.StringIO()
    Diagnostics("p", stream=err).error("x" * 500)
    assert err.getvalue() == "p: error: " + "x" * 500 + "\n"


def test_diagnostics_flush_stdout_first() -> None:
    events: list[str] = []
    err = io.StringIO()
    diag = Diagnostics("p", stream=err, before_write=lambda: events.append("flush"))
    diag.error("boom")
    assert events == ["flush"]


def test_verbosity() -> None:
    assert verbosity(True, 3) == QUIET
    assert verbosity(False, 0) == NORMAL
    assert verbosity(False, 2) == DEBUG


def test_errors_describe_and_codes() -> None:
    assert exit_code_of(CliError("x", 7)) == 7
    assert exit_code_of(UsageError("x")) == ExitCode.USAGE
    assert exit_code_of(TidelogError("x")) == ExitCode.ERROR
    assert exit_code_of(KeyboardInterrupt()) == ExitCode.INTERRUPTED
    assert describe(FileNotFoundError(2, "No such file or directory", "a.log")) == (
        "a.log: No such file or directory"
    )
    assert describe(TidelogError("bad thing")) == "bad thing"
    assert describe(RuntimeError("oops")) == "RuntimeError: oops"


@pytest.mark.parametrize(
    ("raised", "status", "message"),
    [
        (TidelogError("broken batch"), 1, "prog: error: broken batch"),
        (CliError("custom", 5), 5, "prog: error: custom"),
        (UsageError("bad value"), 2, "prog: error: bad value"),
        (KeyboardInterrupt(), 130, "prog: error: interrupted"),
        (PermissionError(13, "Permission denied", "f"), 1, "prog: error: f: Permission denied"),
    ],
)
def test_runner_maps_exceptions_to_exit_codes(
    raised: BaseException, status: int, message: str
) -> None:
    def body(prog: Program) -> None:
        prog.out.line("before")
        raise raised

    result = capture(body)
    assert result.status == status
    assert result.stdout == "before\n"  # what was written is flushed first
    assert result.stderr.replace("log-dump-segment", "prog").strip() == message


def test_runner_status_is_the_worst_recorded_or_returned() -> None:
    def body(prog: Program) -> None:
        prog.fail(3)
        prog.fail(1)

    assert capture(body).status == 3
    assert capture(lambda prog: 7).status == 7
    assert capture(lambda prog: None).status == 0


def test_runner_ends_quietly_when_stdout_closes() -> None:
    err = io.StringIO()
    out = Output(_ClosedPipe())
    prog = Program(out, Diagnostics("p", stream=err))

    def body(p: Program) -> None:
        p.fail(3)
        p.out.line("x")
        p.out.flush()
        raise AssertionError("not reached")

    assert run_body(prog, body) == 3
    assert err.getvalue() == ""


def test_runner_lets_bugs_through() -> None:
    def body(prog: Program) -> None:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        capture(body)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("localhost", [HostPort("localhost", DEFAULT_PORT)]),
        ("a:1, b:2 ,a:1", [HostPort("a", 1), HostPort("b", 2)]),
        ("[::1]:9093,[fe80::1]", [HostPort("::1", 9093), HostPort("fe80::1", 9092)]),
        ("127.0.0.1:9092", [HostPort("127.0.0.1", 9092)]),
    ],
)
def test_parse_bootstrap(text: str, expected: list[HostPort]) -> None:
    assert parse_bootstrap(text) == expected


@pytest.mark.parametrize(
    "text", ["", " , ", "a:0", "a:65536", "a:x", "::1", "[::1", "[]:1", "a b:1"]
)
def test_parse_bootstrap_rejects(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_bootstrap(text)
    assert info.value.exit_code == 2


def test_tables_are_tab_separated_in_a_pipe() -> None:
    raw = io.BytesIO()
    out = Output(raw)
    write_table(out, ["topic", "partitions"], [["a\tb", 3], ["c\nd", 1]])
    out.flush()
    assert raw.getvalue() == b"topic\tpartitions\na\\tb\t3\nc\\nd\t1\n"
