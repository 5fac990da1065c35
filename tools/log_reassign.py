"""log-reassign: plan, execute, watch, verify and cancel replica moves; elect leaders.

The command line and its help live here; the work is in :mod:`tidelog.cli.clients.reassign`
(see man/log-reassign.1 for the plan format, the outputs and the exit status table). ACTION is
a positional choice, as in log-topics, so the shared option introspection sees every option.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from tidelog.cli import options
from tidelog.cli.actions import Action as ActionHelp
from tidelog.cli.app import make_app, run_app
from tidelog.cli.runner import Program, run_program

NAME = "log-reassign"


class Action(StrEnum):
    plan = "plan"
    execute = "execute"
    cancel = "cancel"
    verify = "verify"
    watch = "watch"
    elect = "elect"


app = make_app("Plan, execute, watch, verify and cancel replica moves; elect leaders.")


def _ids(value: str | None) -> list[int] | None:
    if value is None:
        return None
    from tidelog.cli.errors import UsageError

    try:
        return [int(item) for item in value.split(",") if item.strip()]
    except ValueError:
        raise UsageError(f"--brokers {value!r} is not a comma-separated list of broker "
                         "ids") from None


_UNITS = {"": 1, "B": 1, "K": 1000, "KB": 1000, "M": 1000**2, "MB": 1000**2, "G": 1000**3,
          "GB": 1000**3, "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3}


def _rate(value: str | None) -> int | None:
    """``50MB`` (decimal), ``512KiB`` (binary) or a number of bytes, per second."""
    if value is None:
        return None
    from tidelog.cli.errors import UsageError

    text = value.strip().upper().removesuffix("/S")
    number = text.rstrip("KMGIB")
    unit = text[len(number):]
    try:
        rate = float(number) * _UNITS[unit]
    except (ValueError, KeyError):
        raise UsageError(f"--throttle {value!r}: give bytes per second, as 50MB, 512KiB or "
                         "1048576") from None
    if rate < 1:
        raise UsageError(f"--throttle {value!r}: the rate must be at least 1 byte per second")
    return int(rate)


@app.command()
def reassign(
    action: Annotated[
        Action, typer.Argument(metavar="ACTION",
                               help="plan, execute, cancel, verify, watch or elect "
                               "('log-reassign ACTION --help' for one action's options).",
                               show_default=False),
    ],
    args: Annotated[
        list[str] | None,
        typer.Argument(metavar="[PLAN|TOPIC...]",
                       help="execute, cancel, verify, watch: a plan FILE, or - for stdin; "
                       "plan: topics; elect: TOPIC or TOPIC:PARTITION.", show_default=False),
    ] = None,
    bootstrap: options.Bootstrap = options.DEFAULT_BOOTSTRAP,
    topics: Annotated[
        list[str] | None,
        typer.Option("--topics", metavar="TOPIC,...",
                     help="plan: the topics to place (repeatable; default every topic).",
                     show_default=False),
    ] = None,
    brokers: Annotated[
        str | None,
        typer.Option("--brokers", metavar="ID,...",
                     help="plan: the brokers to place replicas on (default every live one).",
                     show_default=False),
    ] = None,
    remove_broker: Annotated[
        list[int] | None,
        typer.Option("--remove-broker", metavar="ID",
                     help="plan: move every replica off this broker (repeatable).",
                     show_default=False),
    ] = None,
    preferred: Annotated[
        bool, typer.Option("--preferred", help="elect: the preferred (first) replica leads."),
    ] = False,
    unclean: Annotated[
        bool, typer.Option("--unclean", help="elect: a leaderless partition gets any live "
                           "replica as leader, in sync or not (may lose records)."),
    ] = False,
    throttle: Annotated[
        str | None,
        typer.Option("--throttle", metavar="BYTES/s",
                     help="execute: limit the moving replicas' replication to this rate "
                     "(50MB, 512KiB or bytes); removed once the moves are done.",
                     show_default=False),
    ] = None,
    interval: Annotated[
        float, typer.Option("--interval", metavar="SECONDS", min=0.05,
                            help="watch: seconds between polls."),
    ] = 1.0,
    timeout: options.Timeout = 30.0,
    json: options.Json = False,
    quiet: options.Quiet = False,
    verbose: options.Verbose = 0,
) -> None:
    """Move replicas between brokers and elect leaders, with Kafka's plan format.

    Exit status: 0 ok, 1 error (broker unreachable or refused, a partition not where the
    plan puts it), 2 usage error, 5 a topic or partition does not exist, 11 replicas are
    still moving (verify), 130 interrupted (the table of every program: tidelog(7)).
    """

    def body(prog: Program) -> int:
        from tidelog.cli.clients.reassign import ReassignSettings
        from tidelog.cli.clients.reassign import reassign as run

        settings = ReassignSettings(
            bootstrap=bootstrap, action=action.value, args=list(args or []),
            topics=list(topics or []), brokers=_ids(brokers),
            remove_brokers=list(remove_broker or []), preferred=preferred, unclean=unclean,
            interval=interval, throttle=_rate(throttle), json=json, timeout=timeout,
        )
        return run(prog, settings)

    run_program(NAME, body, quiet=quiet, verbose=verbose)


ACTIONS = {
    "plan": ActionHelp("[TOPIC...]", "Print a balanced assignment of the topics' partitions "
                       "over the brokers as a plan (kafka-reassign-partitions' JSON).",
                       ("topics", "brokers", "remove_broker")),
    "execute": ActionHelp("PLAN|-", "Start the moves of a plan; print the assignment before "
                          "(a plan to roll back with).", ("throttle",)),
    "cancel": ActionHelp("[PLAN|-]", "Cancel the moves under way (of the plan's partitions): "
                         "they go back to their replicas before the move."),
    "verify": ActionHelp("[PLAN|-]", "Print the state of the moves (of the plan's "
                         "partitions); exit 0 only when every one is done."),
    "watch": ActionHelp("[PLAN|-]", "Show the bytes moved until the moves are done.",
                        ("interval",)),
    "elect": ActionHelp("[TOPIC[:PARTITION]...]", "Elect leaders: the preferred replica, or "
                        "for leaderless partitions any live replica (default every partition).",
                        ("preferred", "unclean")),
}


def main() -> None:
    """Console-script entry point, with per-action help and kafka-reassign-partitions'
    spellings (--generate, --execute, --verify, --cancel, --reassignment-json-file FILE,
    --broker-list; --throttle is the same)."""
    from tidelog.cli.kafka_flags import Spellings

    spellings = Spellings(
        actions={"--generate": "plan", "--execute": "execute", "--verify": "verify",
                 "--cancel": "cancel"},
        values={"--reassignment-json-file": lambda v: [v],
                "--broker-list": lambda v: ["--brokers", v]},
    )
    run_app(app, NAME, actions=ACTIONS, rewrite=spellings.rewrite, hints={
        "--topics-to-move-json-file": "log-reassign plan --topics TOPIC,...",
        "--additional": "a new plan for a moving partition replaces its move "
                        "(log-reassign execute PLAN)",
    })


if __name__ == "__main__":
    main()
