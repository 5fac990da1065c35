"""log-stream: common stateful stream jobs (count, windowed count, stream-table join) without
writing Python, each running until stopped as a member of its application's group.

The command line and its help live here; the jobs are in :mod:`tidelog.cli.clients.stream_jobs`
and the running in :mod:`tidelog.cli.clients.stream` (see man/log-stream.1). Only typer and the
light CLI modules are imported before the options are parsed, so ``--help`` stays fast.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from tidelog.cli import options
from tidelog.cli.actions import Action as ActionHelp
from tidelog.cli.app import make_app, run_app
from tidelog.cli.runner import Program, run_program

NAME = "log-stream"


class Action(StrEnum):
    count = "count"
    window = "window"
    join = "join"


class Guarantee(StrEnum):
    at_least_once = "at_least_once"
    exactly_once = "exactly_once"


def _default_state_dir() -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                             "state")
    return os.path.join(base, "tidelog", "streams")


app = make_app("Run a stateful stream job (count, windowed count, join) until stopped.")


@app.command()
def stream(
    action: Annotated[
        Action, typer.Argument(metavar="JOB", help="count, window or join ('log-stream JOB "
                               "--help' for one job's options).", show_default=False),
    ],
    topic: Annotated[
        str, typer.Option("-t", "--topic", metavar="TOPIC", help="The input topic.",
                          show_default=False),
    ],
    to: Annotated[
        str, typer.Option("-T", "--to", metavar="TOPIC", help="The output topic.",
                          show_default=False),
    ],
    bootstrap: options.Bootstrap = options.DEFAULT_BOOTSTRAP,
    by: Annotated[
        str, typer.Option("--by", metavar="key|value|json:FIELD",
                          help="count, window: group the records by their key, their value "
                          "or a field of their JSON value."),
    ] = "key",
    table: Annotated[
        str | None,
        typer.Option("--table", metavar="TOPIC",
                     help="join: the (compacted) topic read as a table, keyed like --topic.",
                     show_default=False),
    ] = None,
    left: Annotated[
        bool, typer.Option("--left", help="join: keep records that have no table row "
                           "(\"table\": null)."),
    ] = False,
    tumbling: Annotated[
        str | None,
        typer.Option("--tumbling", metavar="SIZE",
                     help="window: tumbling windows of SIZE (500ms, 30s, 1m, 2h, 1d).",
                     show_default=False),
    ] = None,
    hopping: Annotated[
        str | None,
        typer.Option("--hopping", metavar="SIZE", help="window: hopping windows of SIZE...",
                     show_default=False),
    ] = None,
    advance: Annotated[
        str | None,
        typer.Option("--advance", metavar="STEP", help="window: ...starting every STEP.",
                     show_default=False),
    ] = None,
    grace: Annotated[
        str, typer.Option("--grace", metavar="DURATION",
                          help="window: accept records this late (by stream time)."),
    ] = "0s",
    count: Annotated[
        bool, typer.Option("--count", help="window: count the records of each window (the "
                           "one aggregate there is; accepted for clarity)."),
    ] = False,
    final: Annotated[
        bool, typer.Option("--final", help="window: write each window once, when it closes "
                           "(suppression), instead of at each commit."),
    ] = False,
    application_id: Annotated[
        str | None,
        typer.Option("-a", "--application-id", metavar="ID",
                     help="The application (group, internal topics' prefix, state); "
                     "default: log-stream-JOB-TOPIC[-TABLE]-TO.", show_default=False),
    ] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option("--state-dir", metavar="DIR", envvar="TIDELOG_STATE_DIR",
                     help="Where the state stores live (env TIDELOG_STATE_DIR; default "
                     "$XDG_STATE_HOME/tidelog/streams).", show_default=False),
    ] = None,
    guarantee: Annotated[
        Guarantee, typer.Option("--guarantee", help="at_least_once, or exactly_once "
                                "(outputs, state and input offsets in one transaction)."),
    ] = Guarantee.at_least_once,
    commit_interval: Annotated[
        int, typer.Option("--commit-interval", metavar="MS", min=10,
                          help="Commit outputs, state and input offsets this often."),
    ] = 1000,
    session_timeout: Annotated[
        int, typer.Option("--session-timeout", metavar="MS", min=1,
                          help="How long the group waits for a silent instance before its "
                          "tasks move (Kafka's session.timeout.ms)."),
    ] = 10_000,
    timeout: options.Timeout = 30.0,
    json: Annotated[
        bool, typer.Option("--json", help="One JSON object per event (assigned, restored, "
                           "stopped) on stdout."),
    ] = False,
    quiet: options.Quiet = False,
    verbose: options.Verbose = 0,
) -> None:
    """Run JOB on the records of TOPIC, writing to the --to topic, until Ctrl-C or SIGTERM.
    Instances with the same --application-id share the work; state survives restarts.

    Exit status: 1 error, 2 usage error, 5 the input topic does not exist, 130 stopped by
    Ctrl-C or SIGTERM (how a job normally ends; the table of every program: tidelog(7)).
    """
    del count  # the only window aggregate: the flag only says so

    def body(prog: Program) -> int:
        from tidelog.cli.clients.stream import StreamSettings, run_stream

        settings = StreamSettings(
            action=action.value, bootstrap=bootstrap, topic=topic, to=to,
            application_id=application_id,
            state_dir=state_dir if state_dir is not None else Path(_default_state_dir()),
            by=by, table=table, left=left, tumbling=tumbling, hopping=hopping,
            advance=advance, grace=grace, final=final, guarantee=guarantee.value,
            commit_interval_ms=commit_interval, session_timeout_ms=session_timeout,
            timeout=timeout, json=json)
        return run_stream(prog, settings)

    run_program(NAME, body, quiet=quiet, verbose=verbose)


_COMMON = ("topic", "to", "application_id", "state_dir", "guarantee", "commit_interval",
           "session_timeout")
ACTIONS = {
    "count": ActionHelp("", "Count the records of each group (--by); at each commit, write "
                        "the new counts.",
                        (*_COMMON, "by")),
    "window": ActionHelp("", "Count the records of each group per time window.",
                         (*_COMMON, "by", "tumbling", "hopping", "advance", "grace", "count",
                          "final")),
    "join": ActionHelp("", "Join each record with the --table topic's row for its key.",
                       (*_COMMON, "table", "left")),
}


def main() -> None:
    run_app(app, NAME, actions=ACTIONS, hints={
        "--application.id": "name the application with -a ID",
    })


if __name__ == "__main__":
    main()
