"""log-top: a live view of a tidelog (or Kafka) cluster: brokers, quorum, topics' throughput,
under-replicated partitions and the groups with the largest lag.

The command line and its help live here; the work is in :mod:`tidelog.cli.clients.top`
(samples and the JSON document) and :mod:`tidelog.cli.clients.top_live` (the loop and the
view). See man/log-top.1.
"""

from __future__ import annotations

from typing import Annotated

import typer
from tidelog.cli import options
from tidelog.cli.app import make_app, run_app
from tidelog.cli.clients.top import SORTS
from tidelog.cli.runner import Program, run_program

NAME = "log-top"

app = make_app("A live view of a cluster: brokers, quorum, throughput, under-replicated "
               "partitions and group lag.")


@app.command()
def top(
    bootstrap: options.Bootstrap = options.DEFAULT_BOOTSTRAP,
    metrics: Annotated[
        str, typer.Option("-m", "--metrics", metavar="HOST:PORT[,...]",
                          envvar="TIDELOG_METRICS",
                          help="The brokers' metrics listeners (logd --metrics-listen) to "
                          "scrape for bytes in and out and readiness (env TIDELOG_METRICS)."),
    ] = "",
    once: Annotated[
        bool, typer.Option("--once", help="Print one snapshot (rates over --interval) and "
                           "exit."),
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", metavar="SECONDS", min=0.1,
                            help="Seconds between refreshes (and the rate window)."),
    ] = 1.0,
    sort: Annotated[
        str, typer.Option("--sort", metavar="ORDER", autocompletion=lambda: list(SORTS),
                          help="Order of the topics: " + ", ".join(SORTS) + "."),
    ] = "records-in",
    topic: Annotated[
        str | None, typer.Option("-t", "--topic", metavar="GLOB",
                                 help="Only topics matching GLOB (shell pattern)."),
    ] = None,
    groups: Annotated[
        int, typer.Option("--groups", metavar="N", min=0,
                          help="Show the N groups with the largest lag."),
    ] = 10,
    internal: Annotated[
        bool, typer.Option("--internal", help="Include internal topics "
                           "(__consumer_offsets)."),
    ] = False,
    timeout: options.Timeout = 30.0,
    json: options.Json = False,
    quiet: options.Quiet = False,
    verbose: options.Verbose = 0,
) -> None:
    """Show brokers, the controller and quorum, per-topic records and bytes in and out per
    second, under-replicated and offline partitions and the groups with the largest lag,
    refreshed every --interval seconds (keys: s sort, u only problems, q quit); --once
    prints one snapshot, --json as one JSON document.

    Exit status: 0 ok, 1 error (no broker reachable), 2 usage error, 130 interrupted (the
    table of every program: tidelog(7)).
    """

    def body(prog: Program) -> int:
        from tidelog.cli.clients.top import TopSettings, metrics_addresses
        from tidelog.cli.clients.top_live import run_top
        from tidelog.cli.errors import UsageError

        if sort not in SORTS:
            raise UsageError(f"--sort {sort!r}: expected one of {', '.join(SORTS)}")
        metrics_addresses(metrics)  # a bad address is a usage error before any connection
        settings = TopSettings(bootstrap=bootstrap, metrics=metrics, once=once, json=json,
                               interval=interval, timeout=timeout, sort=sort, topic=topic,
                               groups=groups, internal=internal)
        return run_top(prog, settings)

    run_program(NAME, body, quiet=quiet, verbose=verbose)


def main() -> None:
    """Console-script entry point."""
    run_app(app, NAME)


if __name__ == "__main__":
    main()
