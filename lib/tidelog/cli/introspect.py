"""What a program's command line looks like, read from its typer app.

The man-page drift test and the completion generator both need the options of every program.
They take them from here, so the source of truth is the typer app itself: a new option shows up
in the completions when they are regenerated and fails the drift test until the man page
documents it.

:func:`console_scripts` reads ``[project.scripts]`` from pyproject.toml; :func:`load_app` imports
a program module and returns its ``app``; :func:`command_spec` flattens a typer app into a
:class:`CommandSpec`. typer's parameter classes changed across releases (click's ``type``
objects before 0.20, typer's own ``type_descriptor`` after), so values are read defensively
with ``getattr``; an attribute missing in both shapes means "plain value".
"""

from __future__ import annotations

import importlib
import tomllib
import typing
from pathlib import Path, PurePath
from typing import Any, NamedTuple

import typer


class OptionSpec(NamedTuple):
    """One option: all its spellings, whether it takes a value and what completes it."""

    names: tuple[str, ...]
    help: str
    takes_value: bool
    #: "file", "dir", "choice", "topic", "group" (names asked of the broker at completion
    #: time) or "" (free text: nothing to complete).
    value_kind: str = ""
    choices: tuple[str, ...] = ()
    repeatable: bool = False
    metavar: str = ""


class ArgumentSpec(NamedTuple):
    name: str
    value_kind: str
    #: -1 for "any number".
    nargs: int
    choices: tuple[str, ...] = ()


class CommandSpec(NamedTuple):
    prog: str
    help: str
    options: tuple[OptionSpec, ...]
    arguments: tuple[ArgumentSpec, ...]

    def option_names(self) -> list[str]:
        """Every spelling of every option, e.g. ["-q", "--quiet", "--json", ...]."""
        return [name for option in self.options for name in option.names]


def console_scripts(pyproject: Path) -> dict[str, str]:
    """``[project.scripts]`` of ``pyproject``: program name -> "module:function"."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    scripts: dict[str, str] = data.get("project", {}).get("scripts", {})
    return dict(sorted(scripts.items()))


def load_app(entry_point: str) -> typer.Typer:
    """The typer app of the program whose entry point is ``module:function``: the module's
    ``app`` attribute (the convention of every tidelog program)."""
    module_name, _, _ = entry_point.partition(":")
    module = importlib.import_module(module_name)
    app = getattr(module, "app", None)
    if not isinstance(app, typer.Typer):
        raise TypeError(f"{module_name} has no typer app named 'app'")
    return app


def _one_line(text: str | None) -> str:
    """The first paragraph of a help text, on one line."""
    if not text:
        return ""
    paragraph = text.strip().split("\n\n", 1)[0]
    return " ".join(paragraph.split())


def _is_path(annotation: Any) -> bool:
    """Whether ``annotation`` is a Path, or a list/tuple/optional of Paths."""
    if isinstance(annotation, type):
        return issubclass(annotation, PurePath)
    return any(_is_path(arg) for arg in typing.get_args(annotation))


#: Metavars that name topics or groups: their values complete from the broker.
_NAMED = {"TOPIC": "topic", "TOPIC[:P,...]": "topic", "GROUP": "group"}


def _kind(param: Any) -> tuple[str, tuple[str, ...]]:
    # A fixed set of values given for completion only (typer's autocompletion), e.g. logd's
    # --log-level, whose values the config module checks.
    custom = getattr(param, "_custom_shell_complete", None)
    if custom is not None:
        items = custom(None, param, "")
        return "choice", tuple(str(getattr(i, "value", i)) for i in items)
    named = _NAMED.get(str(getattr(param, "metavar", None) or ""))
    if named is not None:
        return named, ()
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None:
        choices = getattr(descriptor, "choices", None)
        if choices:
            return "choice", tuple(str(getattr(c, "value", c)) for c in choices)
        if getattr(descriptor, "is_path", False) or _is_path(
            getattr(descriptor, "annotation", None)
        ):
            info = getattr(descriptor, "parameter_info", None)
            if (
                info is not None
                and getattr(info, "dir_okay", True)
                and not getattr(info, "file_okay", True)
            ):
                return "dir", ()
            return "file", ()
        return "", ()
    ptype = getattr(param, "type", None)
    name = type(ptype).__name__  # click's Choice/Path, or typer's TyperChoice/TyperPath
    if name.endswith("Choice"):
        return "choice", tuple(str(c) for c in getattr(ptype, "choices", ()))
    if name.endswith("Path"):
        if getattr(ptype, "dir_okay", True) and not getattr(ptype, "file_okay", True):
            return "dir", ()
        return "file", ()
    return "", ()


def command_spec(prog: str, app: typer.Typer) -> CommandSpec:
    """Flatten the single-command typer ``app`` of ``prog`` (help options included)."""
    command = typer.main.get_command(app)
    options: list[OptionSpec] = []
    arguments: list[ArgumentSpec] = []
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        kind, choices = _kind(param)
        if param.param_type_name == "argument":
            arguments.append(ArgumentSpec(param.name or "", kind, int(param.nargs), choices))
            continue
        counted = bool(getattr(param, "count", False))
        is_flag = bool(getattr(param, "is_flag", False)) or counted
        names = tuple(param.opts) + tuple(param.secondary_opts)
        options.append(
            OptionSpec(
                names=names,
                help=_one_line(getattr(param, "help", None)),
                takes_value=not is_flag,
                value_kind="" if is_flag else kind,
                choices=() if is_flag else choices,
                repeatable=counted or bool(getattr(param, "multiple", False)),
                metavar=str(param.metavar or (param.name or "value").upper()),
            )
        )
    help_names = tuple(command.context_settings.get("help_option_names", ["--help"]))
    options.append(OptionSpec(help_names, "Show the help and exit.", False))
    return CommandSpec(prog, _one_line(command.help), tuple(options), tuple(arguments))
