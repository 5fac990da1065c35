"""Prometheus text exposition format 0.0.4, written by hand (no dependency).

A scrape is built as a list of lines by :class:`Exposition`: one ``# HELP`` and ``# TYPE``
line per metric family, then its samples ``name{label="value",...} number``. Label values are
escaped as the format requires (backslash, double quote, newline); numbers are printed as
integers when they are whole, ``+Inf``/``-Inf``/``NaN`` otherwise as Prometheus spells them.
A family is written once even when added twice (later samples join it), so collectors do not
have to group their output. Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = Mapping[str, object]


def escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1 << 53:
        return str(int(value))
    return repr(value)


def sample(name: str, labels: Labels | None, value: float) -> str:
    if labels:
        inner = ",".join(f'{k}="{escape(v)}"' for k, v in labels.items())
        return f"{name}{{{inner}}} {number(value)}"
    return f"{name} {number(value)}"


class Exposition:
    """The families of one scrape, in the order they were first added."""

    def __init__(self) -> None:
        self._families: dict[str, tuple[str, str, list[str]]] = {}

    def family(self, name: str, kind: str, help_text: str) -> list[str]:
        """The sample lines of family ``name`` (created on first use)."""
        found = self._families.get(name)
        if found is None:
            found = self._families[name] = (kind, help_text, [])
        return found[2]

    def add(self, name: str, kind: str, help_text: str, value: float,
            labels: Labels | None = None) -> None:
        self.family(name, kind, help_text).append(sample(name, labels, value))

    def add_all(self, name: str, kind: str, help_text: str,
                samples: Iterable[tuple[Labels | None, float]]) -> None:
        lines = self.family(name, kind, help_text)
        lines.extend(sample(name, labels, value) for labels, value in samples)

    def text(self) -> str:
        out: list[str] = []
        for name, (kind, help_text, lines) in self._families.items():
            out.append(f"# HELP {name} {help_text.replace(chr(92), chr(92) * 2)}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(lines)
        out.append("")
        return "\n".join(out)
