"""log-produce: read records from stdin or files and append them to a topic.

The command line and its help live here; the work is in :mod:`tidelog.cli.clients.produce`
(see man/log-produce.1 for the input formats, the JSON report and the exit status table). Only
typer and the light CLI modules are imported before the options are parsed, so ``--help``
stays fast.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from tidelog.cli import options
from tidelog.cli.app import make_app, run_app
from tidelog.cli.runner import Program, run_program

NAME = "log-produce"


class Acks(StrEnum):
    zero = "0"
    one = "1"
    all = "all"


class Codec(StrEnum):
    none = "none"
    gzip = "gzip"
    snappy = "snappy"
    lz4 = "lz4"
    zstd = "zstd"


class InputFormat(StrEnum):
    text = "text"
    json = "json"


CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

app = make_app("Append records read from stdin or files to a topic.")


@app.command()
def produce(
    files: Annotated[
        list[Path] | None,
        typer.Argument(metavar="FILE", help="Read these files instead of stdin.",
                       show_default=False),
    ] = None,
    topic: options.Topic = ...,  # type: ignore[assignment]
    bootstrap: options.Bootstrap = options.DEFAULT_BOOTSTRAP,
    key_delimiter: Annotated[
        str | None,
        typer.Option("-K", "--key-delimiter", metavar="DELIM",
                     help="Split each record at the first DELIM into key and value.",
                     show_default=False),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("-k", "--key", metavar="KEY",
                     help="Give every record this key (kcat -k); not with -K.",
                     show_default=False),
    ] = None,
    file_per_record: Annotated[
        bool,
        typer.Option("--file-per-record",
                     help="Send each FILE whole as one record, as kcat -P FILE... does "
                     "(no splitting on the delimiter)."),
    ] = False,
    header: Annotated[
        list[str] | None,
        typer.Option("-H", "--header", metavar="NAME=VALUE",
                     help="Add this header to every record (repeatable).", show_default=False),
    ] = None,
    partition: Annotated[
        int | None,
        typer.Option("-p", "--partition", metavar="N", min=0,
                     help="Write every record to partition N (default: by key, or sticky).",
                     show_default=False),
    ] = None,
    acks: Annotated[
        Acks, typer.Option("--acks", help="Acknowledgements to wait for: 0, 1 or all."),
    ] = Acks.all,
    compression: Annotated[
        Codec, typer.Option("-z", "--compression", help="Compress batches with this codec."),
    ] = Codec.none,
    linger_ms: Annotated[
        float, typer.Option("--linger-ms", metavar="MS", min=0.0,
                            help="Wait up to MS milliseconds to fill a batch."),
    ] = 5.0,
    batch_size: Annotated[
        int, typer.Option("--batch-size", metavar="BYTES", min=100, max=1_000_000,
                          help="Largest batch in bytes."),
    ] = 1_000_000,
    idempotent: Annotated[
        bool, typer.Option("--idempotent",
                           help="Idempotent producer: retries never duplicate records."),
    ] = False,
    delimiter: Annotated[
        str, typer.Option("-D", "--delimiter", metavar="DELIM",
                          help="Record delimiter (escapes like \\n, \\0 allowed)."),
    ] = "\\n",
    null_value: Annotated[
        str | None,
        typer.Option("--null-value", metavar="TEXT",
                     help="Send a value equal to TEXT as null (a tombstone).",
                     show_default=False),
    ] = None,
    null_empty: Annotated[
        bool, typer.Option("-Z", "--null-empty",
                           help="Send an empty value as null (a tombstone), as kcat -Z."),
    ] = False,
    input_format: Annotated[
        InputFormat, typer.Option("--input-format",
                                  help="text (delimited records) or json (one object per "
                                  "record: key, value, headers, partition, timestamp)."),
    ] = InputFormat.text,
    timeout: options.Timeout = 30.0,
    json: Annotated[
        bool, typer.Option("--json", help="Print a JSON report on stdout at the end."),
    ] = False,
    quiet: options.Quiet = False,
    verbose: options.Verbose = 0,
) -> None:
    """Append records read from stdin (or the FILEs) to TOPIC, one per line by default.

    A summary goes to stderr. Exit status: 0 ok, 1 error (broker unreachable), 2 usage error,
    5 the topic does not exist (and is not created on first use), 9 some records were not
    written, 130 interrupted (what was read is still written). The table of every program:
    tidelog(7).
    """

    def body(prog: Program) -> int:
        from tidelog.cli.clients.common import parse_pairs, unescape
        from tidelog.cli.clients.produce import ProduceSettings, produce
        from tidelog.cli.errors import UsageError

        if null_empty and null_value is not None and null_value != "":
            raise UsageError("use either -Z or --null-value TEXT")
        if idempotent and acks != Acks.all:
            raise UsageError("--idempotent needs --acks all")
        delim = unescape(delimiter)
        if not delim:
            raise UsageError("the record delimiter must not be empty")
        kd = unescape(key_delimiter) if key_delimiter is not None else None
        if kd == b"":
            raise UsageError("the key delimiter must not be empty")
        if key is not None and kd is not None:
            raise UsageError("use either -k KEY or -K DELIM")
        paths = list(files or [])
        if file_per_record and not paths:
            raise UsageError("--file-per-record needs FILE arguments")
        if file_per_record and input_format != InputFormat.text:
            raise UsageError("--file-per-record sends files as they are: no --input-format")
        settings = ProduceSettings(
            bootstrap=bootstrap, topic=topic, files=paths, key_delimiter=kd,
            key=key.encode("utf-8", "surrogateescape") if key is not None else None,
            file_per_record=file_per_record,
            headers=[(n, v.encode("utf-8", "surrogateescape"))
                     for n, v in parse_pairs(list(header or []), "header")],
            partition=partition, acks={"0": 0, "1": 1, "all": -1}[acks.value],
            compression=CODECS[compression.value], linger_ms=linger_ms,
            batch_size=batch_size, idempotent=idempotent, delimiter=delim,
            null_value=b"" if null_empty else (
                unescape(null_value) if null_value is not None else None
            ),
            input_format=input_format.value, timeout=timeout, json=json,
            progress=bool(paths) and not quiet and sys.stderr.isatty(),
        )
        return produce(prog, settings)

    run_program(NAME, body, quiet=quiet, verbose=verbose)


def main() -> None:
    """Console-script entry point, with Kafka's and kcat's spellings (see man log-produce)."""
    from tidelog.cli.kafka_flags import Spellings, acks, boolean, timeout_ms, value_of

    spellings = Spellings(
        flags={"-P": [], "-l": []},
        values={"--compression-codec": value_of("-z"), "--request-required-acks": acks},
        properties={
            "acks": acks, "request.required.acks": acks,
            "compression.codec": value_of("-z"), "compression.type": value_of("-z"),
            "linger.ms": value_of("--linger-ms"), "queue.buffering.max.ms":
            value_of("--linger-ms"), "batch.size": value_of("--batch-size"),
            "enable.idempotence": boolean("--idempotent"),
            "request.timeout.ms": timeout_ms, "socket.timeout.ms": timeout_ms,
            "message.timeout.ms": timeout_ms,
        },
        property_flags=("--producer-property",),
    )
    run_app(app, NAME, rewrite=spellings.rewrite, hints={
        "--property": "keyed input is -K DELIM (parse.key, key.separator); headers -H NAME=VALUE",
        "--sync": "every record is acknowledged before log-produce exits; --acks all waits for "
                  "the in-sync replicas",
        "-T": "copy the input yourself: tee >(log-produce -t TOPIC)",
        "--line-reader": "records are split on -D DELIM (default newline)",
    })


if __name__ == "__main__":
    main()
