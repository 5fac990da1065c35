"""log-pipe: consume a topic as a group member, run its values through a command, produce the
command's output lines to another topic, exactly once.

The command line and its help live here; the work is in :mod:`tidelog.cli.clients.pipe`
(see man/log-pipe.1). Only typer and the light CLI modules are imported before the options
are parsed, so ``--help`` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer
from tidelog.cli import options
from tidelog.cli.app import make_app, run_app
from tidelog.cli.runner import Program, run_program

NAME = "log-pipe"

app = make_app("Run the records of a topic through a command into another topic, exactly "
               "once: outputs and input offsets commit in one transaction.")


@app.command()
def pipe(
    command: Annotated[
        list[str],
        typer.Argument(metavar="-- CMD [ARG]...",
                       help="The command the values go through (after --).",
                       show_default=False),
    ],
    group: Annotated[
        str, typer.Option("-g", "--group", metavar="GROUP",
                          help="Consume as a member of consumer group GROUP; its committed "
                          "offsets say where each partition resumes.", show_default=False),
    ],
    topic: Annotated[
        str, typer.Option("-t", "--topic", metavar="TOPIC", help="The topic to read.",
                          show_default=False),
    ],
    output_topic: Annotated[
        str, typer.Option("-T", "--output-topic", metavar="TOPIC",
                          help="The topic the command's output lines go to.",
                          show_default=False),
    ],
    bootstrap: options.Bootstrap = options.DEFAULT_BOOTSTRAP,
    one_to_one: Annotated[
        bool, typer.Option("--one-to-one",
                           help="Run CMD once, write it a line per record and read back "
                           "exactly one line per record (keys are kept). Without it CMD "
                           "runs once per transaction's records."),
    ] = False,
    transactional_id: Annotated[
        str | None,
        typer.Option("--transactional-id", metavar="ID",
                     help="The transactional id (default log-pipe.GROUP.TOPIC.OUTPUT); "
                     "give each instance of the same pipe its own.", show_default=False),
    ] = None,
    max_records: Annotated[
        int, typer.Option("-n", "--max-records", metavar="N", min=1,
                          help="At most N input records per transaction."),
    ] = 1000,
    offset: Annotated[
        str, typer.Option("-o", "--offset", metavar="OFFSET",
                          help="Where a partition without a committed offset starts: "
                          "beginning, end, N, -N, +N or @TIMESTAMP_MS."),
    ] = "beginning",
    exit_at_end: Annotated[
        bool, typer.Option("-e", "--exit",
                           help="Exit when every assigned partition reached its end."),
    ] = False,
    transaction_timeout_ms: Annotated[
        int, typer.Option("--transaction-timeout-ms", metavar="MS", min=1,
                          help="After a crash, the coordinator aborts the open transaction "
                          "after MS milliseconds (sooner when the pipe restarts)."),
    ] = 10_000,
    json: Annotated[
        bool, typer.Option("--json", help="At the end, one JSON object of counts on stdout."),
    ] = False,
    timeout: options.Timeout = 30.0,
    quiet: options.Quiet = False,
    verbose: options.Verbose = 0,
) -> None:
    """Consume TOPIC as a member of GROUP, feed the values to CMD (one per line) and
    produce CMD's output lines to the output topic; each transaction holds a chunk's output
    and the group's new offsets, so after a crash (kill -9 included) and a restart a
    read_committed reader sees each input's output exactly once.

    Exit status: 0 ok, 1 error (CMD failed, broker unreachable, fenced by another instance
    of the same transactional id), 2 usage error, 5 TOPIC does not exist, 130 interrupted
    (the table of every program: tidelog(7)).
    """

    def body(prog: Program) -> int:
        from tidelog.cli.clients.pipe import PipeSettings, pipe

        return pipe(prog, PipeSettings(
            bootstrap=bootstrap, group=group, source=topic, dest=output_topic,
            command=list(command), one_to_one=one_to_one, transactional_id=transactional_id,
            offset=offset, exit_at_end=exit_at_end, max_records=max_records,
            transaction_timeout_ms=transaction_timeout_ms, timeout=timeout, json=json))

    run_program(NAME, body, quiet=quiet, verbose=verbose)


def main() -> None:
    """Console-script entry point."""
    run_app(app, NAME)


if __name__ == "__main__":
    main()
