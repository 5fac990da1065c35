"""log-quorum: describe the metadata quorum of a tidelog cluster (like kafka-metadata-quorum).

The command line and its help live here; the work is in :mod:`tidelog.cli.clients.quorum`
(see man/log-quorum.1 for the output formats and the exit status table). ACTION is a
positional choice, as in log-topics, so the shared option introspection sees every option.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from tidelog.cli import options
from tidelog.cli.app import make_app, run_app
from tidelog.cli.runner import Program, run_program

NAME = "log-quorum"


class Action(StrEnum):
    describe = "describe"


app = make_app("Describe the metadata quorum: leader, epoch, high watermark, replication.")


@app.command()
def quorum(
    action: Annotated[
        Action, typer.Argument(help="describe (the only action).", show_default=False),
    ],
    bootstrap: options.Bootstrap = options.DEFAULT_BOOTSTRAP,
    status: Annotated[
        bool, typer.Option("--status",
                           help="describe: cluster id, leader, epoch, high watermark, lag."),
    ] = False,
    replication: Annotated[
        bool, typer.Option("--replication",
                           help="describe: per node log end offset, lag and fetch times."),
    ] = False,
    timeout: options.Timeout = 30.0,
    json: options.Json = False,
    quiet: options.Quiet = False,
    verbose: options.Verbose = 0,
) -> None:
    """Describe the metadata quorum (--status or --replication).

    Exit status: 0 ok, 1 error (no node reachable), 2 usage error, 10 the quorum has no
    leader, 130 interrupted (the table of every program: tidelog(7)).
    """

    def body(prog: Program) -> int:
        from tidelog.cli.clients.quorum import QuorumSettings
        from tidelog.cli.clients.quorum import quorum as run

        settings = QuorumSettings(bootstrap=bootstrap, status=status,
                                  replication=replication, json=json, timeout=timeout)
        return run(prog, settings)

    run_program(NAME, body, quiet=quiet, verbose=verbose)


def main() -> None:
    """Console-script entry point; takes kafka-metadata-quorum's --bootstrap-server too."""
    from tidelog.cli.kafka_flags import Spellings

    run_app(app, NAME, rewrite=Spellings().rewrite)


if __name__ == "__main__":
    main()
