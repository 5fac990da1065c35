"""log-groups: list, describe, reset the offsets of, watch the lag of and delete consumer
groups (kafka-consumer-groups' jobs).

The command line and its help live here; the work is in :mod:`tidelog.cli.clients.groups`
(see man/log-groups.1 for the output formats, the JSON schema and the exit status table).
ACTION is a positional choice rather than a typer sub-command so that the shared option
introspection (man-page drift test, generated completions) sees every option. Only typer and
the light CLI modules are imported before the options are parsed, so ``--help`` stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from tidelog.cli import options
from tidelog.cli.actions import Action as ActionHelp
from tidelog.cli.app import make_app, run_app
from tidelog.cli.runner import Program, run_program

NAME = "log-groups"


class Action(StrEnum):
    list = "list"
    describe = "describe"
    reset_offsets = "reset-offsets"
    lag = "lag"
    delete = "delete"


app = make_app("List, describe, reset offsets of, watch the lag of and delete consumer groups.")


@app.command()
def groups(
    action: Annotated[
        Action, typer.Argument(metavar="ACTION",
                               help="list, describe, reset-offsets, lag or delete ('log-groups "
                               "ACTION --help' for one action's options).",
                               show_default=False),
    ],
    names: Annotated[
        list[str] | None,
        typer.Argument(metavar="GROUP", help="The group to act on (delete: one or more).",
                       show_default=False),
    ] = None,
    bootstrap: options.Bootstrap = options.DEFAULT_BOOTSTRAP,
    topic: Annotated[
        list[str] | None,
        typer.Option("-t", "--topic", metavar="TOPIC[:P,...]",
                     help="reset-offsets: reset this topic (or these partitions of it; "
                     "repeatable; default: every partition the group committed).",
                     show_default=False),
    ] = None,
    members: Annotated[
        bool, typer.Option("--members", help="describe: the members and their partitions."),
    ] = False,
    state: Annotated[
        bool, typer.Option("--state", help="describe: the group's state and protocol."),
    ] = False,
    to_earliest: Annotated[
        bool, typer.Option("--to-earliest", help="reset-offsets: to the start of each log."),
    ] = False,
    to_latest: Annotated[
        bool, typer.Option("--to-latest", help="reset-offsets: to the end of each log."),
    ] = False,
    to_offset: Annotated[
        int | None,
        typer.Option("--to-offset", metavar="N", min=0, help="reset-offsets: to offset N.",
                     show_default=False),
    ] = None,
    to_datetime: Annotated[
        str | None,
        typer.Option("--to-datetime", metavar="DATETIME",
                     help="reset-offsets: to the first record at or after DATETIME (ISO "
                     "8601, UTC unless it has an offset; or epoch milliseconds).",
                     show_default=False),
    ] = None,
    shift_by: Annotated[
        int | None,
        typer.Option("--shift-by", metavar="N",
                     help="reset-offsets: move the committed offsets by N (negative: back).",
                     show_default=False),
    ] = None,
    by_duration: Annotated[
        str | None,
        typer.Option("--by-duration", metavar="DURATION",
                     help="reset-offsets: to the first record of DURATION ago (PT1H30M, "
                     "90s, 15m, 2h, 1d).", show_default=False),
    ] = None,
    execute: Annotated[
        bool, typer.Option("--execute", help="reset-offsets: commit the plan (default: "
                           "print it and change nothing)."),
    ] = False,
    all_groups: Annotated[
        bool, typer.Option("--all-groups", help="describe, delete: every group."),
    ] = False,
    max_lag: Annotated[
        int | None,
        typer.Option("--max", metavar="N", min=0,
                     help="lag: exit with status 5 when the total lag is above N.",
                     show_default=False),
    ] = None,
    timeout: options.Timeout = 30.0,
    json: options.Json = False,
    quiet: options.Quiet = False,
    verbose: options.Verbose = 0,
) -> None:
    """List consumer groups, describe one (offsets, lag and owners per partition; its
    members; its state), reset its offsets, print its total lag, or delete groups.

    Exit status: 0 ok, 1 error (broker unreachable or refused), 2 usage error, 5 the group
    (or a topic or partition of -t) does not exist, 7 the group has active members
    (reset-offsets, delete), 8 lag above --max, 130 interrupted (the table of every program:
    tidelog(7)).
    """

    def body(prog: Program) -> int:
        from tidelog.cli.clients.groups import GroupsSettings
        from tidelog.cli.clients.groups import groups as run

        settings = GroupsSettings(
            bootstrap=bootstrap, action=action.value, groups=list(names or []),
            topics=list(topic or []), members=members, state=state, to_earliest=to_earliest,
            to_latest=to_latest, to_offset=to_offset, to_datetime=to_datetime,
            shift_by=shift_by, by_duration=by_duration, execute=execute, max_lag=max_lag,
            json=json, timeout=timeout, all_groups=all_groups,
        )
        return run(prog, settings)

    run_program(NAME, body, quiet=quiet, verbose=verbose)


_RESET = ("topic", "to_earliest", "to_latest", "to_offset", "to_datetime", "shift_by",
          "by_duration", "execute")
ACTIONS = {
    "list": ActionHelp("", "Print the id of every consumer group, one per line."),
    "describe": ActionHelp("GROUP | --all-groups", "Print the group's committed offset, log end, "
                           "lag and owner per partition; or its members; or its state.",
                           ("members", "state", "all_groups")),
    "reset-offsets": ActionHelp("GROUP", "Print the new offsets of the group's partitions and, "
                                "with --execute, commit them (only while the group has no "
                                "members).", _RESET),
    "lag": ActionHelp("GROUP", "Print the group's total lag; with --max N, exit 8 above N.",
                      ("max_lag",)),
    "delete": ActionHelp("GROUP... | --all-groups", "Delete the groups (only those without "
                         "members) and their committed offsets.", ("all_groups",)),
}


def main() -> None:
    """Console-script entry point, with per-action help and kafka-consumer-groups' spellings."""
    from tidelog.cli.kafka_flags import Spellings

    spellings = Spellings(
        actions={"--list": "list", "--describe": "describe", "--delete": "delete",
                 "--reset-offsets": "reset-offsets"},
        values={"--group": lambda v: [v]},
        # A reset without --execute is a dry run already; every committed partition is the
        # default set (--all-topics).
        flags={"--dry-run": [], "--all-topics": []},
    )
    run_app(app, NAME, actions=ACTIONS, rewrite=spellings.rewrite, hints={
        "--to-current": "the committed offsets stay as they are without --execute",
        "--from-file": "give the new offsets with -t TOPIC:P --to-offset N",
        "--export": "log-groups reset-offsets GROUP --json prints the plan as JSON lines",
        "--offsets": "log-groups describe GROUP shows the offsets",
    })


if __name__ == "__main__":
    main()
