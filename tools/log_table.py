"""log-table: read a compacted topic as a table (the latest value per key) -- get one row,
dump them all, or watch them change.

The command line and its help live here; the work is in :mod:`tidelog.cli.clients.table`
(see man/log-table.1). Only typer and the light CLI modules are imported before the options
are parsed, so ``--help`` stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from tidelog.cli import options
from tidelog.cli.actions import Action as ActionHelp
from tidelog.cli.app import make_app, run_app
from tidelog.cli.runner import Program, run_program

NAME = "log-table"


class Action(StrEnum):
    get = "get"
    dump = "dump"
    watch = "watch"


app = make_app("Read a compacted topic as a table: get a row, dump the rows, watch them change.")


@app.command()
def table(
    action: Annotated[
        Action, typer.Argument(metavar="ACTION", help="get, dump or watch ('log-table ACTION "
                               "--help' for one action's options).", show_default=False),
    ],
    key: Annotated[
        str | None,
        typer.Argument(metavar="KEY", help="get: the key of the row.", show_default=False),
    ] = None,
    topic: Annotated[
        str, typer.Option("-t", "--topic", metavar="TOPIC", help="The topic to read.",
                          show_default=False),
    ] = "",
    bootstrap: options.Bootstrap = options.DEFAULT_BOOTSTRAP,
    key_delimiter: Annotated[
        str, typer.Option("-K", "--key-delimiter", metavar="DELIM",
                          help="dump, watch: print the key, DELIM, then the value."),
    ] = "\\t",
    print_null: Annotated[
        bool, typer.Option("-Z", "--print-null",
                           help="watch: print a deleted row's value as NULL, as kcat -Z."),
    ] = False,
    json: Annotated[
        bool, typer.Option("--json", help="One JSON object per row (JSON lines)."),
    ] = False,
    base64: Annotated[
        bool, typer.Option("--base64", help="With --json: keys and values always in base64."),
    ] = False,
    timeout: options.Timeout = 30.0,
    quiet: options.Quiet = False,
    verbose: options.Verbose = 0,
) -> None:
    """Read TOPIC from its start as a table -- the latest value per key, tombstones
    removed -- and print one row (get KEY), every row in key order (dump), or every row and
    then each change as it comes (watch, until Ctrl-C).

    Exit status: 0 ok, 1 error, 2 usage error, 5 the topic (or, for get, the key) does not
    exist, 130 interrupted (the table of every program: tidelog(7)).
    """

    def body(prog: Program) -> int:
        from tidelog.cli.clients.common import unescape
        from tidelog.cli.clients.table import TableSettings, run_table
        from tidelog.cli.errors import UsageError

        if not topic:
            raise UsageError("give the topic with -t TOPIC")
        if (action is Action.get) != (key is not None):
            raise UsageError("get takes one KEY; dump and watch take none")
        settings = TableSettings(
            action=action.value, bootstrap=bootstrap, topic=topic, key=key,
            key_delimiter=unescape(key_delimiter), null=b"NULL" if print_null else b"",
            json=json, base64=base64, timeout=timeout)
        return run_table(prog, settings)

    run_program(NAME, body, quiet=quiet, verbose=verbose)


ACTIONS = {
    "get": ActionHelp("KEY", "Print the value of the row with KEY (exit 5 when there is none).",
                      ("topic", "base64")),
    "dump": ActionHelp("", "Print every row, in key order: KEY, the delimiter, the value.",
                       ("topic", "key_delimiter", "base64")),
    "watch": ActionHelp("", "Print every row, then each change as it arrives, until Ctrl-C.",
                        ("topic", "key_delimiter", "print_null", "base64")),
}


def main() -> None:
    run_app(app, NAME, actions=ACTIONS)


if __name__ == "__main__":
    main()
