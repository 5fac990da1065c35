"""The topologies behind log-stream's jobs, built from its options (sans-I/O).

* ``count``: records per group; at each commit the latest count of every group that changed
  (the record cache): key = the group (bytes as they are), value = the count as decimal text.
* ``window``: records per group per time window (tumbling or hopping, with grace; ``final``
  writes each window once when it closes, else the windows that changed at each commit):
  key = the group, value = JSON ``{"key", "start", "end", "count"}`` (start and end in
  epoch milliseconds; key as text).
* ``join``: each record of the stream with the row of the table topic for its key (inner; or
  left, keeping records without a row): key = the record key, value = JSON ``{"value",
  "table"}``, each the JSON the bytes hold when they are JSON, else their text (base64 text
  when not UTF-8), ``table`` null for a left-join miss.

Grouping (``--by``): ``key`` (the record key, no repartition: the topic is keyed already),
``value`` (the whole value), ``json:FIELD`` (a top-level field of a JSON value: a string as
it is, anything else as its JSON; a record without the field, or whose value is not a JSON
object, is counted under no group and so dropped, as records without a key are).

Durations: a number with a unit, ``500ms``, ``30s``, ``1m``, ``2h``, ``1d``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

import orjson

from tidelog.cli.errors import UsageError
from tidelog.streams import BYTES, INT_TEXT, JSON, StreamsBuilder, TimeWindows, Windowed

_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration(text: str, what: str) -> int:
    """Milliseconds of ``500ms``, ``30s``, ``1m``, ``2h``, ``1d``."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise UsageError(f"{what}: {text!r} is not a duration (a number and a unit: 500ms, "
                         "30s, 1m, 2h, 1d)")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def _text(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii")


def as_json_value(data: bytes | None) -> Any:
    """The JSON a value holds, or its text when it is not JSON."""
    if data is None:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _text(data)


def group_selector(by: str) -> Callable[[bytes | None, bytes | None], bytes | None] | None:
    """A function picking the group of a record, or None for ``key`` (no repartition)."""
    if by == "key":
        return None
    if by == "value":
        return lambda _k, v: v
    if by.startswith("json:") and len(by) > 5:
        field = by[5:]

        def pick(_k: bytes | None, v: bytes | None) -> bytes | None:
            if v is None:
                return None
            try:
                doc = orjson.loads(v)
            except orjson.JSONDecodeError:
                return None
            if not isinstance(doc, dict) or field not in doc or doc[field] is None:
                return None
            found = doc[field]
            return found.encode() if isinstance(found, str) else orjson.dumps(found)

        return pick
    raise UsageError(f"--by {by!r}: use key, value or json:FIELD")


def _grouped(b: StreamsBuilder, topic: str, by: str) -> Any:
    stream = b.stream(topic, key=BYTES, value=BYTES)
    select = group_selector(by)
    if select is None:
        return stream.group_by_key(key=BYTES, value=BYTES)
    return stream.group_by(select, key=BYTES, value=BYTES, name="group-by")


def count_job(topic: str, to: str, by: str) -> StreamsBuilder:
    b = StreamsBuilder()
    _grouped(b, topic, by).count("counts").to_stream().to(to, key=BYTES, value=INT_TEXT)
    return b


def window_job(topic: str, to: str, by: str, windows: TimeWindows, final: bool
               ) -> StreamsBuilder:
    b = StreamsBuilder()
    table = _grouped(b, topic, by).windowed_by(windows).count("window-counts")
    if final:
        table = table.suppress()

    def rekey(w: Windowed[bytes], n: int) -> tuple[bytes, dict[str, Any]]:
        return w.key, {"key": _text(w.key), "start": w.start, "end": w.end, "count": n}

    table.to_stream().map(rekey).to(to, key=BYTES, value=JSON)
    return b


def join_job(topic: str, table_topic: str, to: str, left: bool) -> StreamsBuilder:
    b = StreamsBuilder()
    table = b.table(table_topic, key=BYTES, value=BYTES, name="table")
    stream = b.stream(topic, key=BYTES, value=BYTES)

    def joiner(v: bytes | None, row: bytes | None) -> dict[str, Any]:
        return {"value": as_json_value(v), "table": as_json_value(row)}

    joined = stream.left_join(table, joiner) if left else stream.join(table, joiner)
    joined.to(to, key=BYTES, value=JSON)
    return b
