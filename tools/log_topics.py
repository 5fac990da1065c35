"""log-topics: create, list, describe, alter and delete topics and their configs.

The command line and its help live here; the work is in :mod:`tidelog.cli.clients.topics`
(see man/log-topics.1 for the output formats, the JSON schema and the exit status table).
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

NAME = "log-topics"


class Action(StrEnum):
    create = "create"
    list = "list"
    describe = "describe"
    alter = "alter"
    delete = "delete"


app = make_app("Create, list, describe, alter and delete topics and their configs.")


@app.command()
def topics(
    action: Annotated[
        Action, typer.Argument(metavar="ACTION",
                               help="create, list, describe, alter or delete ('log-topics "
                               "ACTION --help' for one action's options).",
                               show_default=False),
    ],
    names: Annotated[
        list[str] | None,
        typer.Argument(metavar="TOPIC", help="Topics to act on (list, describe: default all).",
                       show_default=False),
    ] = None,
    bootstrap: options.Bootstrap = options.DEFAULT_BOOTSTRAP,
    partitions: Annotated[
        int | None,
        typer.Option("--partitions", metavar="N", min=1,
                     help="create: partitions of the topic; alter: grow it to N.",
                     show_default=False),
    ] = None,
    replication_factor: Annotated[
        int | None,
        typer.Option("--replication-factor", metavar="N", min=1,
                     help="create: replicas of each partition.", show_default=False),
    ] = None,
    config: Annotated[
        list[str] | None,
        typer.Option("--config", metavar="KEY=VALUE",
                     help="create, alter: set this topic config (repeatable).",
                     show_default=False),
    ] = None,
    delete_config: Annotated[
        list[str] | None,
        typer.Option("--delete-config", metavar="KEY",
                     help="alter: reset this config to its default (repeatable).",
                     show_default=False),
    ] = None,
    if_not_exists: Annotated[
        bool, typer.Option("--if-not-exists", help="create: succeed if the topic exists."),
    ] = False,
    if_exists: Annotated[
        bool, typer.Option("--if-exists",
                           help="alter, delete: succeed if the topic does not exist."),
    ] = False,
    configs: Annotated[
        bool, typer.Option("--configs", help="describe: print configs, not partitions."),
    ] = False,
    cleaner: Annotated[
        bool, typer.Option("--cleaner", help="describe: print each partition's log size and "
                           "the log cleaner's view (dirty ratio, first dirty offset, last "
                           "cleaned)."),
    ] = False,
    internal: Annotated[
        bool, typer.Option("--internal", help="list, describe: include internal topics."),
    ] = False,
    under_replicated: Annotated[
        bool, typer.Option("--under-replicated", "--under-replicated-partitions",
                           help="describe: only partitions with fewer in-sync replicas "
                           "than replicas."),
    ] = False,
    unavailable: Annotated[
        bool, typer.Option("--unavailable", "--unavailable-partitions",
                           help="describe: only partitions without a leader."),
    ] = False,
    timeout: options.Timeout = 30.0,
    json: options.Json = False,
    quiet: options.Quiet = False,
    verbose: options.Verbose = 0,
) -> None:
    """Create, list, describe, alter (partitions, configs) and delete topics.

    Exit status: 0 ok, 1 error (broker unreachable or refused), 2 usage error, 5 the topic
    does not exist, 6 the topic to create exists, 130 interrupted (the table of every
    program: tidelog(7)).
    """

    def body(prog: Program) -> int:
        from tidelog.cli.clients.common import parse_pairs
        from tidelog.cli.clients.topics import TopicsSettings
        from tidelog.cli.clients.topics import topics as run

        settings = TopicsSettings(
            bootstrap=bootstrap, action=action.value, topics=list(names or []),
            partitions=partitions, replication_factor=replication_factor,
            configs=parse_pairs(list(config or []), "config"),
            delete_configs=list(delete_config or []), if_not_exists=if_not_exists,
            if_exists=if_exists, show_configs=configs, show_cleaner=cleaner,
            internal=internal, json=json, timeout=timeout,
            under_replicated=under_replicated, unavailable=unavailable,
        )
        return run(prog, settings)

    run_program(NAME, body, quiet=quiet, verbose=verbose)


ACTIONS = {
    "create": ActionHelp("TOPIC...", "Create the TOPICs (the broker's defaults for what is not "
                         "given).", ("partitions", "replication_factor", "config",
                                     "if_not_exists")),
    "list": ActionHelp("[TOPIC...]", "Print the name of every topic (or of the TOPICs given "
                       "that exist), one per line.", ("internal",)),
    "describe": ActionHelp("[TOPIC...]", "Print the partitions of the TOPICs (default: every "
                           "topic): leader, replicas, ISR, log start and high watermark; or "
                           "their configs, or the log cleaner's view.",
                           ("configs", "cleaner", "internal")),
    "alter": ActionHelp("TOPIC...", "Grow the TOPICs' partitions, set or reset their configs.",
                        ("partitions", "config", "delete_config", "if_exists")),
    "delete": ActionHelp("TOPIC...", "Delete the TOPICs and their data.", ("if_exists",)),
}


def main() -> None:
    """Console-script entry point, with per-action help and kafka-topics' spellings."""
    from tidelog.cli.kafka_flags import Spellings

    spellings = Spellings(
        actions={f"--{a}": a for a in ACTIONS},
        values={"--topic": lambda v: [v]},
        flags={"--exclude-internal": []},
    )
    run_app(app, NAME, actions=ACTIONS, rewrite=spellings.rewrite, hints={
        "--add-config": "log-topics alter TOPIC --config KEY=VALUE",
        "--entity-type": "a topic's configs: log-topics describe TOPIC --configs, "
                         "log-topics alter TOPIC --config KEY=VALUE",
        "--replica-assignment": "partitions are placed by the controller "
                                "(--replication-factor N)",
    })


if __name__ == "__main__":
    main()
