"""Options that mean the same in every program, as typer ``Annotated`` aliases.

Use them as parameter types so every program spells, documents and parses them alike::

    def main(json: options.Json = False, quiet: options.Quiet = False,
             verbose: options.Verbose = 0, bootstrap: options.Bootstrap = DEFAULT_BOOTSTRAP)

``-b/--bootstrap`` falls back to the environment variable ``TIDELOG_BOOTSTRAP`` (parse it with
:func:`tidelog.cli.bootstrap.parse_bootstrap`); ``--timeout`` is in seconds.
"""

from __future__ import annotations

from typing import Annotated

import typer

BOOTSTRAP_ENV = "TIDELOG_BOOTSTRAP"
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"

Json = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Machine-readable output: one JSON object per line (JSON lines).",
    ),
]
Quiet = Annotated[
    bool,
    typer.Option("-q", "--quiet", help="Print only errors on stderr."),
]
Verbose = Annotated[
    int,
    typer.Option(
        "-v",
        "--verbose",
        count=True,
        show_default=False,
        help="More diagnostics on stderr (repeat for debug output).",
    ),
]
Bootstrap = Annotated[
    str,
    typer.Option(
        "-b",
        "--bootstrap",
        envvar=BOOTSTRAP_ENV,
        metavar="HOST:PORT[,...]",
        help="Brokers to start from (env TIDELOG_BOOTSTRAP).",
    ),
]
Topic = Annotated[
    str,
    typer.Option("-t", "--topic", metavar="TOPIC", help="The topic to work on."),
]
Timeout = Annotated[
    float,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        min=0.0,
        help="Give up after this many seconds.",
    ),
]
