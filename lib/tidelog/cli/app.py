"""The typer glue that makes each program a thin app with the same behaviour.

:func:`make_app` builds a :class:`typer.Typer` configured for tidelog programs:

* plain click help and usage errors (no rich panels): help on stdout, usage errors on stderr
  with exit status 2, and ``--help`` does not import rich (it stays well under 300 ms);
* ``-h`` as well as ``--help``;
* no typer ``--install-completion`` options: completions are generated files under
  ``completions/`` (``scripts/gen-completions``), so no program runs on every TAB;
* no rich tracebacks with local variables: a bug prints Python's ordinary traceback.

A program module defines ``app = make_app(...)``, one ``@app.command()`` and
``def main() -> None: app(prog_name=NAME)``, the console script's entry point.
"""

from __future__ import annotations

import typer

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def make_app(help: str) -> typer.Typer:
    """A typer app with the shared settings; ``help`` is the program's one-paragraph summary."""
    return typer.Typer(
        help=help,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings=CONTEXT_SETTINGS,
    )
