"""Kafka's and kcat's spellings of our flags, rewritten to ours before the command line is
parsed (see :func:`tidelog.cli.app.run_app`).

A Kafka user types ``--bootstrap-server``, ``--from-beginning``, ``--max-messages 10``,
``--describe --group billing``; a kcat user ``-J``, ``-X acks=all``, ``-o s@1700000000000``.
Where such a spelling means exactly what one of ours means, a :class:`Spellings` table turns
it into ours, so each program keeps one set of options (and one man page, one completion
file) and the aliases cost nothing at start-up. Spellings that mean something we do not do
are not rewritten: :data:`COMMON_HINTS` and the programs' own tables name ours instead.

Rules: ``--flag=value`` and ``--flag value`` are both understood; nothing after ``--`` is
touched; an action spelled as a flag (``--create``) moves to the front, where the action
positional is. ``-X KEY=VALUE`` (kcat's client properties) maps the properties listed in
``properties`` to our flags; any other property is a usage error that lists the known ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

#: Kafka or kcat spellings we do not take, and what to use instead (every program).
COMMON_HINTS: Mapping[str, str] = {
    "--zookeeper": "tidelog has no ZooKeeper: name brokers with -b/--bootstrap",
}


class SpellingError(Exception):
    """A Kafka or kcat spelling that cannot be taken as written (a usage error)."""


def _value(flag: str) -> Callable[[str], list[str]]:
    return lambda value: [flag, value]


@dataclass(frozen=True)
class Spellings:
    """The Kafka and kcat spellings one program takes."""

    #: A flag without a value -> our tokens (``--from-beginning`` -> ``-o beginning``).
    flags: Mapping[str, list[str]] = field(default_factory=dict)
    #: A flag with a value -> our tokens for that value (``--max-messages N`` -> ``-c N``).
    values: Mapping[str, Callable[[str], list[str]]] = field(default_factory=dict)
    #: Flags that name the action (``--create`` -> ``create``, put first).
    actions: Mapping[str, str] = field(default_factory=dict)
    #: ``-X`` properties -> our tokens for the property's value.
    properties: Mapping[str, Callable[[str], list[str]]] = field(default_factory=dict)
    #: Kafka's flags whose value is a client property like ``-X``'s
    #: (``--consumer-property``, ``--producer-property``).
    property_flags: tuple[str, ...] = ()

    def rewrite(self, args: list[str]) -> list[str]:
        """``args`` with every Kafka or kcat spelling of this table written our way."""
        front: list[str] = []
        out: list[str] = []
        values = dict(self.values)
        values.setdefault("--bootstrap-server", _value("-b"))
        values.setdefault("--broker-list", _value("-b"))
        if self.properties:
            for flag in ("-X", *self.property_flags):
                values.setdefault(flag, self._property)
        i = 0
        while i < len(args):
            arg = args[i]
            i += 1
            if arg == "--":
                out += args[i - 1:]
                break
            name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
            if arg in self.actions:
                front.append(self.actions[arg])
            elif arg in self.flags:
                out += self.flags[arg]
            elif name in values:
                if eq:
                    value = inline
                else:
                    if i >= len(args):
                        raise SpellingError(f"{arg} needs a value")
                    value = args[i]
                    i += 1
                out += values[name](value)
            elif arg.startswith("-X") and len(arg) > 2 and "-X" in values:
                out += values["-X"](arg[2:])  # -Xacks=all, as kcat takes it
            else:
                out.append(arg)
        return front + out

    def _property(self, text: str) -> list[str]:
        key, sep, value = text.partition("=")
        if not sep:
            raise SpellingError(f"bad property {text!r}: use -X KEY=VALUE")
        known = dict(self.properties)
        for alias in ("bootstrap.servers", "metadata.broker.list"):
            known.setdefault(alias, _value("-b"))
        if key not in known:
            raise SpellingError(f"property {key!r} is not taken here (known: "
                                f"{', '.join(sorted(known))})")
        return known[key](value)


def timeout_ms(value: str) -> list[str]:
    """A Kafka ``*.timeout.ms`` property as our ``--timeout`` seconds."""
    try:
        return ["--timeout", f"{int(value) / 1000:g}"]
    except ValueError:
        raise SpellingError(f"bad timeout {value!r}: give milliseconds") from None


def acks(value: str) -> list[str]:
    """``acks`` / ``request.required.acks``: -1 is all."""
    return ["--acks", "all" if value in ("-1", "all") else value]


def boolean(flag: str) -> Callable[[str], list[str]]:
    """A true/false property as our flag (given) or nothing (false)."""

    def rewrite(value: str) -> list[str]:
        lowered = value.lower()
        if lowered in ("true", "1", "yes"):
            return [flag]
        if lowered in ("false", "0", "no"):
            return []
        raise SpellingError(f"bad value {value!r}: use true or false")

    return rewrite


value_of = _value
