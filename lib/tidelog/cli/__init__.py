"""What every tidelog program shares: exit codes, stdout writer, stderr diagnostics, errors,
common options and the typer glue that turns a function into a well-behaved Unix program.

Conventions (see man/tidelog.7 and each program's man page):

* stdout carries data only, written through :class:`tidelog.cli.output.Output` (buffered,
  JSON lines via orjson, a closed pipe ends the program quietly);
* diagnostics go to stderr through :class:`tidelog.cli.diagnostics.Diagnostics`, gated by
  ``-q``/``-v``; help text goes to stdout;
* one exit-code table (:mod:`tidelog.cli.exit_codes`): 0 ok, 1 error, 2 usage, 130
  interrupted, program-specific codes from 3 up.

This package imports nothing heavy at import time: rich is loaded only when a diagnostic or a
terminal table is printed, so ``--help`` stays fast. Import the submodules directly.
"""
