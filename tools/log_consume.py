"""log-consume: print the records of topics on stdout, tail -f style or up to their end.

The command line and its help live here; the work is in :mod:`tidelog.cli.clients.consume`
(see man/log-consume.1 for offsets, the ``-f`` tokens, the JSON schema and the exit status
table). Only typer and the light CLI modules are imported before the options are parsed, so
``--help`` stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from tidelog.cli import options
from tidelog.cli.app import make_app, run_app
from tidelog.cli.runner import Program, run_program

NAME = "log-consume"

class Isolation(StrEnum):
    read_uncommitted = "read_uncommitted"
    read_committed = "read_committed"


app = make_app("Print the records of topics on stdout, following new ones or up to the end.")


@app.command()
def consume(
    topic: Annotated[
        list[str] | None,
        typer.Option("-t", "--topic", metavar="TOPIC",
                     help="Topic to read (repeatable).", show_default=False),
    ] = None,
    pattern: Annotated[
        str | None,
        typer.Option("--pattern", metavar="REGEX",
                     help="Read every topic whose whole name matches REGEX.",
                     show_default=False),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option("-g", "--group", metavar="GROUP",
                     help="Consume as a member of consumer group GROUP: read the partitions "
                     "it assigns, from its committed offsets, committing what was printed.",
                     show_default=False),
    ] = None,
    bootstrap: options.Bootstrap = options.DEFAULT_BOOTSTRAP,
    partition: Annotated[
        list[int] | None,
        typer.Option("-p", "--partition", metavar="N", min=0,
                     help="Read only partition N (repeatable; default: all).",
                     show_default=False),
    ] = None,
    offset: Annotated[
        str, typer.Option("-o", "--offset", metavar="OFFSET",
                          help="Start at beginning, end, N, -N (N before the end), +N, "
                          "@TIMESTAMP_MS or @ISO-DATETIME (kcat: s@TIMESTAMP_MS). The default "
                          "is the beginning, where Kafka's console consumer starts at the "
                          "end; with -g a group resumes where it left off, and a new group "
                          "starts here (what Kafka's auto.offset.reset decides)."),
    ] = "beginning",
    exit_at_end: Annotated[
        bool, typer.Option("-e", "--exit", help="Exit when every partition reached its end."),
    ] = False,
    count: Annotated[
        int | None,
        typer.Option("-c", "--count", metavar="N", min=0, help="Stop after N records.",
                     show_default=False),
    ] = None,
    format: Annotated[
        str | None,
        typer.Option("-f", "--format", metavar="FORMAT",
                     help="Print each record with kcat's tokens: %t %p %o %k %K %s %S %T %h.",
                     show_default=False),
    ] = None,
    delimiter: Annotated[
        str, typer.Option("-D", "--delimiter", metavar="DELIM",
                          help="Write DELIM after each value (escapes like \\n, \\0)."),
    ] = "\\n",
    key_delimiter: Annotated[
        str | None,
        typer.Option("-K", "--key-delimiter", metavar="DELIM",
                     help="Print the key, DELIM, then the value.", show_default=False),
    ] = None,
    print_null: Annotated[
        bool, typer.Option("-Z", "--print-null",
                           help="Print a null key or value (a tombstone) as NULL, as kcat -Z."),
    ] = False,
    json: Annotated[
        bool, typer.Option("--json", help="One JSON object per record (JSON lines)."),
    ] = False,
    base64: Annotated[
        bool, typer.Option("--base64", help="With --json: keys, values and headers always "
                           "in base64."),
    ] = False,
    isolation: Annotated[
        Isolation, typer.Option("--isolation",
                                help="read_committed: only records of committed "
                                "transactions, up to the last stable offset."),
    ] = Isolation.read_uncommitted,
    timeout: options.Timeout = 30.0,
    quiet: options.Quiet = False,
    verbose: options.Verbose = 0,
) -> None:
    """Print the records of the TOPICs on stdout (the value per line by default), following
    new records like tail -f until Ctrl-C, or up to the end with -e. With -g GROUP, share
    the topics with the group's other members and resume where the group left off.

    Exit status: 0 ok, 1 error (broker unreachable, corrupt data), 2 usage error, 5 a topic
    or partition does not exist, 130 interrupted (the table of every program: tidelog(7)).
    """

    def body(prog: Program) -> int:
        from tidelog.cli.clients.common import unescape
        from tidelog.cli.clients.consume import ConsumeSettings, consume
        from tidelog.cli.errors import UsageError

        if not topic and pattern is None:
            raise UsageError("give a topic with -t TOPIC (or --pattern REGEX)")
        if json and format is not None:
            raise UsageError("use either -f or --json")
        settings = ConsumeSettings(
            bootstrap=bootstrap, topics=list(topic or []), pattern=pattern,
            partitions=list(partition or []), offset=offset, exit_at_end=exit_at_end,
            count=count, format=unescape(format) if format is not None else None,
            delimiter=unescape(delimiter),
            key_delimiter=unescape(key_delimiter) if key_delimiter is not None else None,
            json=json, base64=base64, timeout=timeout, null=b"NULL" if print_null else b"",
            read_committed=isolation is Isolation.read_committed,
        )
        if group is not None:
            from tidelog.cli.clients.group_consume import consume_group

            return consume_group(prog, settings, group)
        return consume(prog, settings)

    run_program(NAME, body, quiet=quiet, verbose=verbose)


def _kcat_offset(value: str) -> list[str]:
    """kcat's ``-o s@TS`` (start at a time) is our ``-o @TS``; ``e@`` (stop at a time) is not
    taken."""
    from tidelog.cli.kafka_flags import SpellingError

    if value.startswith("s@"):
        return ["-o", value[1:]]
    if value.startswith("e@"):
        raise SpellingError("-o e@TIME (stop at a time) is not supported: use -c N or -e")
    return ["-o", value]


def _auto_offset_reset(value: str) -> list[str]:
    return ["-o", {"smallest": "beginning", "largest": "end"}.get(value, value)]


def main() -> None:
    """Console-script entry point, with Kafka's and kcat's spellings (see man log-consume)."""
    from tidelog.cli.kafka_flags import Spellings, timeout_ms, value_of

    spellings = Spellings(
        flags={"--from-beginning": ["-o", "beginning"], "-J": ["--json"], "-C": [],
               "-u": [], "--unbuffered": []},
        values={"--max-messages": value_of("-c"), "--include": value_of("--pattern"),
                "--isolation-level": value_of("--isolation"),
                "--whitelist": value_of("--pattern"), "-o": _kcat_offset,
                "--offset": _kcat_offset},
        properties={"group.id": value_of("-g"), "auto.offset.reset": _auto_offset_reset,
                    "isolation.level": value_of("--isolation"),
                    "socket.timeout.ms": timeout_ms, "request.timeout.ms": timeout_ms},
        property_flags=("--consumer-property",),
    )
    run_app(app, NAME, rewrite=spellings.rewrite, hints={
        "--property": "print keys with -K DELIM, or any field with -f FORMAT (kcat's tokens, "
                      "e.g. -f '%k %s\\n')",
        "--formatter": "choose the output with -f FORMAT or --json",
        "--timeout-ms": "-e exits once every partition reached its end",
        "-G": "consume as a group member with -g GROUP -t TOPIC",
    })


if __name__ == "__main__":
    main()
