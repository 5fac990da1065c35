"""Read the Prometheus text format (what logd's ``/metrics`` serves) into samples.

Only what a scrape of logd holds is needed: ``name{label="value",...} number`` lines, with
the format's escapes in label values (``\\\\``, ``\\"``, ``\\n``); comments and blank lines
are skipped, and so is a line that does not parse (a newer broker's additions must not break
an older reader). Timestamps after the value are ignored. Pure: text in, samples out.
"""

from __future__ import annotations

import math
import re

Labels = tuple[tuple[str, str], ...]
Samples = dict[tuple[str, Labels], float]

_LINE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?\s*$")
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_UNESCAPE = re.compile(r"\\(.)")
_SPECIAL = {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}


def _labels(text: str) -> Labels | None:
    found = []
    pos = 0
    while pos < len(text):
        match = _LABEL.match(text, pos)
        if match is None:
            return None
        value = _UNESCAPE.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), match[2])
        found.append((match[1], value))
        pos = match.end()
    return tuple(sorted(found))


def parse(text: str) -> Samples:
    samples: Samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        labels = _labels(match[2] or "")
        if labels is None:
            continue
        raw = match[3]
        try:
            value = _SPECIAL[raw] if raw in _SPECIAL else float(raw)
        except ValueError:
            continue
        samples[(match[1], labels)] = value
    return samples


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    """The samples of ``name`` that have ``label`` (and no other label), by its value."""
    return {labels[0][1]: v for (n, labels), v in samples.items()
            if n == name and len(labels) == 1 and labels[0][0] == label}
