"""Per-action help for the programs whose first argument is an action (log-topics create,
log-groups reset-offsets, ...), as git and rpk give it.

The programs keep one typer command with ACTION as a positional choice, so the shared option
introspection (man-page drift test, generated completions) sees every option; this module
renders ``log-topics create --help`` from that command with only the options the action uses
(plus the common ones) under a plain usage line, ``Usage: log-topics create [OPTIONS]
TOPIC...``. :func:`action_help` returns None when the command line does not ask for one
action's help; ``--help`` alone still prints the whole program's help.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import typer

#: Options every action has.
COMMON = ("bootstrap", "timeout", "json", "quiet", "verbose")
HELP_FLAGS = ("-h", "--help")


@dataclass(frozen=True)
class Action:
    """What ``PROG ACTION --help`` shows: the arguments after the action in the usage line,
    a one-paragraph summary, and the parameter names of the options it takes."""

    arguments: str
    summary: str
    options: tuple[str, ...] = ()


def _requested(command: Any, args: Sequence[str], actions: Mapping[str, Action]) -> str | None:
    """The action whose help ``args`` ask for, if they do."""
    if not any(a in HELP_FLAGS for a in args):
        return None
    takes_value = {opt for p in command.params if p.param_type_name == "option"
                   and not (getattr(p, "is_flag", False) or getattr(p, "count", False))
                   for opt in p.opts}
    skip = False
    for arg in args:
        if arg == "--":
            return None
        if skip:
            skip = False
            continue
        if arg.startswith("-"):
            skip = arg in takes_value
            continue
        return arg if arg in actions else None
    return None


def action_help(app: typer.Typer, prog: str, args: Sequence[str],
                actions: Mapping[str, Action]) -> str | None:
    """The help text of the one action ``args`` ask about (``create --help``), else None."""
    command = typer.main.get_command(app)
    name = _requested(command, args, actions)
    if name is None:
        return None
    action = actions[name]
    ctx = command.context_class(command, info_name=f"{prog} {name}",
                                max_content_width=100)
    formatter = ctx.make_formatter()
    formatter.write_usage(f"{prog} {name}", f"[OPTIONS] {action.arguments}".rstrip())
    formatter.write_paragraph()
    with formatter.indentation():
        formatter.write_text(action.summary)
    wanted = set(action.options) | set(COMMON)
    records = [record for p in command.params
               if p.param_type_name == "option" and p.name in wanted
               for record in [p.get_help_record(ctx)] if record is not None]
    records.append((", ".join(HELP_FLAGS), "Show this message and exit."))
    with formatter.section("Options"):
        formatter.write_dl(records)
    formatter.write_paragraph()
    with formatter.indentation():
        formatter.write_text(f"All actions: {prog} --help; the manual: man {prog}.")
    return str(formatter.getvalue())
