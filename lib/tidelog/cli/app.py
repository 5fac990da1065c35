"""The typer glue that makes each program a thin app with the same behaviour.

:func:`make_app` builds a :class:`typer.Typer` configured for tidelog programs:

* plain click help and usage errors (no rich panels): help on stdout, usage errors on stderr
  with exit status 2, and ``--help`` does not import rich (it stays well under 300 ms);
* ``-h`` as well as ``--help``;
* no typer ``--install-completion`` options: completions are generated files under
  ``completions/`` (``scripts/gen-completions``), so no program runs on every TAB;
* no rich tracebacks with local variables: a bug prints Python's ordinary traceback.

A program module defines ``app = make_app(...)``, one ``@app.command()`` and
``def main() -> None: run_app(app, NAME, ...)``, the console script's entry point.

:func:`run_app` adds what a single typer command cannot say by itself:

* ``PROG ACTION --help`` prints that action's help (:mod:`tidelog.cli.actions`);
* Kafka's and kcat's spellings that mean the same as ours are rewritten to ours before
  parsing (``rewrite``: ``--from-beginning`` is ``-o beginning``, ``--describe --group G`` is
  ``describe G``), so they need no option of their own;
* a Kafka or kcat spelling we do not take gets a usage error naming ours (``hints``), e.g.
  ``--zookeeper``, instead of a bare "No such option";
* ``-X KEY=VALUE`` and ``--command-config FILE`` (taken before parsing) are named at the end
  of ``--help`` (:data:`CLIENT_EPILOG`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence

import typer

from tidelog.cli.actions import Action, action_help

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

#: The end of every client program's --help: the options run_app takes before typer parses
#: (:mod:`tidelog.cli.client_security`), so they are in no command's option list.
CLIENT_EPILOG = (
    "Secured listeners: -X KEY=VALUE sets a client property as kcat does (security.protocol, "
    "sasl.mechanism, sasl.username, sasl.password, ssl.ca.location, ssl.certificate.location, "
    "ssl.key.location, ssl.endpoint.identification.algorithm); --command-config FILE reads "
    "them from a Java properties file, as Kafka's tools do (CLIENT in tidelog(7)).")


def make_app(help: str) -> typer.Typer:
    """A typer app with the shared settings; ``help`` is the program's one-paragraph summary."""
    return typer.Typer(
        help=help,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings=CONTEXT_SETTINGS,
    )


def _hint(prog: str, args: Sequence[str], hints: Mapping[str, str]) -> str | None:
    for arg in args:
        if arg == "--":
            return None
        flag = arg.split("=", 1)[0]
        if flag in hints:
            return f"{prog}: error: {flag} is not a {prog} option: {hints[flag]}"
    return None


def run_app(
    app: typer.Typer,
    prog: str,
    *,
    actions: Mapping[str, Action] | None = None,
    rewrite: Callable[[list[str]], list[str]] | None = None,
    hints: Mapping[str, str] | None = None,
    argv: Sequence[str] | None = None,
) -> None:
    """Parse the command line (``sys.argv[1:]`` by default) and run ``app``'s command."""
    from tidelog.cli.client_security import PropertiesError, take
    from tidelog.cli.kafka_flags import COMMON_HINTS, SpellingError

    args = list(sys.argv[1:] if argv is None else argv)
    message = None
    try:
        args = take(args)  # -X security.*=... and --command-config, for every program
    except PropertiesError as exc:
        message = f"{prog}: error: {exc}"
    message = message or _hint(prog, args, {**COMMON_HINTS, **(hints or {})})
    if message is None and rewrite is not None:
        try:
            args = rewrite(args)
        except SpellingError as exc:
            message = f"{prog}: error: {exc}"
    if message is not None:
        print(f"Usage: {prog} [OPTIONS] ...\nTry '{prog} --help' for help.\n\n{message}",
              file=sys.stderr)
        raise SystemExit(2)
    for command in app.registered_commands:
        command.epilog = command.epilog or CLIENT_EPILOG
    if actions is not None:
        text = action_help(app, prog, args, actions)
        if text is not None:
            sys.stdout.write(text)
            raise SystemExit(0)
    app(prog_name=prog, args=args)
