"""log-dump-segment: print segment, index and checkpoint files of a log directory, offline.

The command line and its help live here; the work is in :mod:`tidelog.cli.dump`. Output lines
match Apache Kafka's kafka-dump-log (see man/log-dump-segment.1 for the formats, the JSON
schema and the exit status table). Only typer and the light CLI modules are imported before
the options are parsed, so ``--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from tidelog.cli import options
from tidelog.cli.app import make_app
from tidelog.cli.runner import Program, run_program

NAME = "log-dump-segment"

app = make_app(
    "Print the record batches, index entries and checkpoints of Kafka/tidelog log-directory "
    "files, offline."
)


@app.command()
def dump(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE",
            help="Files to dump: .log, .index, .timeindex, .snapshot, *.checkpoint, "
            "*offset-checkpoint, leader-epoch-checkpoint, partition.metadata, meta.properties, "
            "quorum-state, .lock.",
            show_default=False,
        ),
    ],
    print_data: Annotated[
        bool,
        typer.Option(
            "-d",
            "--print-data",
            help="Print a line per record with its key and payload.",
        ),
    ] = False,
    deep_iteration: Annotated[
        bool,
        typer.Option(
            "--deep-iteration",
            help="Print a line per record of every batch, decompressing compressed ones.",
        ),
    ] = False,
    verify_index: Annotated[
        bool,
        typer.Option(
            "--verify-index",
            help="Check every entry of each .index and .timeindex against its .log segment.",
        ),
    ] = False,
    cluster_metadata: Annotated[
        bool,
        typer.Option(
            "--cluster-metadata-decoder",
            help="Print payloads as KRaft metadata records (JSON, as kafka-dump-log "
            "--cluster-metadata-decoder); implies --print-data.",
        ),
    ] = False,
    max_bytes: Annotated[
        int | None,
        typer.Option(
            "--max-bytes",
            metavar="N",
            min=0,
            help="Stop before the first batch that ends after byte N of a log.",
            show_default=False,
        ),
    ] = None,
    json: options.Json = False,
    quiet: options.Quiet = False,
    verbose: options.Verbose = 0,
) -> None:
    """Print the record batches, index entries and checkpoints of Kafka/tidelog log-directory
    files, offline, in the line format of Apache Kafka's kafka-dump-log (JSON lines with
    --json). The type of each FILE is told from its name.

    Exit status: 0 ok, 1 a file is missing or unreadable or of unknown type, 2 usage error,
    3 corrupt data, 4 index entries that do not match the log, 130 interrupted (the table
    of every program: tidelog(7)).
    """

    def body(prog: Program) -> None:
        from tidelog.cli.dump.dumper import dump_files
        from tidelog.cli.dump.settings import DumpOptions

        opts = DumpOptions(
            print_data=print_data or cluster_metadata,
            cluster_metadata=cluster_metadata,
            deep_iteration=deep_iteration,
            verify_index=verify_index,
            max_bytes=max_bytes,
            json=json,
            quiet=quiet,
        )
        dump_files(prog, [str(file) for file in files], opts)

    run_program(NAME, body, quiet=quiet, verbose=verbose)


def main() -> None:
    """Console-script entry point."""
    app(prog_name=NAME)


if __name__ == "__main__":
    main()
