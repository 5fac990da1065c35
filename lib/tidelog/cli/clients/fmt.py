"""How log-consume writes records: the default (value per line), kcat's ``-f`` format, and
JSON lines.

``-f`` tokens (kcat's): ``%s`` value, ``%S`` value length, ``%k`` key, ``%K`` key length,
``%t`` topic, ``%p`` partition, ``%o`` offset, ``%T`` timestamp (ms), ``%h`` headers as
``name=value`` joined by commas, ``%%`` a percent sign; escapes as in
:func:`tidelog.cli.clients.common.unescape`. A null key or value prints as nothing (or as
``NULL`` with ``-Z``, as kcat prints it) and its length as -1, so a tombstone stands apart from
an empty value. An unknown token is a usage error.

JSON: one object per record, ``{"topic", "partition", "offset", "timestamp", "key", "value",
"headers"}``; key, value and header values are UTF-8 text, or base64 when the bytes are not
UTF-8 (or always with ``--base64``), and then ``key_encoding`` / ``value_encoding`` /
``headers_encoding`` say ``"base64"``. Headers are an object (a repeated name keeps its last
value).

Speed: a format is compiled once into a list of literal bytes and field getters; the default
output joins the values of a whole batch with one ``bytes.join``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from tidelog.cli.errors import UsageError
from tidelog.records.record import Record

Getter = Callable[[str, int, Record], bytes]


def _len(b: bytes | None) -> bytes:
    return b"-1" if b is None else str(len(b)).encode()


def _headers(record: Record) -> bytes:
    return b",".join(
        name.encode("utf-8") + b"=" + (value if value is not None else b"")
        for name, value in record.headers
    )


def _tokens(null: bytes) -> dict[str, Getter]:
    return dict(
        _TOKENS,
        s=lambda t, p, r: null if r.value is None else r.value,
        k=lambda t, p, r: null if r.key is None else r.key,
    )


_TOKENS: dict[str, Getter] = {
    "s": lambda t, p, r: r.value or b"",
    "S": lambda t, p, r: _len(r.value),
    "k": lambda t, p, r: r.key or b"",
    "K": lambda t, p, r: _len(r.key),
    "t": lambda t, p, r: t.encode("utf-8"),
    "p": lambda t, p, r: str(p).encode(),
    "o": lambda t, p, r: str(r.offset).encode(),
    "T": lambda t, p, r: str(r.timestamp).encode(),
    "h": lambda t, p, r: _headers(r),
}


class Formatter:
    """A compiled ``-f`` format."""

    def __init__(self, pattern: bytes, null: bytes = b"") -> None:
        """``null``: what a null key or value prints as (kcat's ``-Z`` gives ``NULL``)."""
        tokens = _tokens(null) if null else _TOKENS
        self.parts: list[bytes | Getter] = []
        literal = bytearray()
        i = 0
        n = len(pattern)
        while i < n:
            ch = pattern[i:i + 1]
            if ch != b"%":
                literal += ch
                i += 1
                continue
            if i + 1 >= n:
                raise UsageError("format ends with a lone %")
            token = chr(pattern[i + 1])
            i += 2
            if token == "%":
                literal += b"%"
                continue
            getter = tokens.get(token)
            if getter is None:
                raise UsageError(
                    f"unknown format token %{token} (known: %s %S %k %K %t %p %o %T %h %%)"
                )
            if literal:
                self.parts.append(bytes(literal))
                literal.clear()
            self.parts.append(getter)
        if literal:
            self.parts.append(bytes(literal))

    def render(self, topic: str, partition: int, records: Sequence[Record]) -> bytes:
        parts = self.parts
        out: list[bytes] = []
        for record in records:
            for part in parts:
                out.append(part if isinstance(part, bytes) else part(topic, partition, record))
        return b"".join(out)


def render_values(values: Sequence[bytes | None], delimiter: bytes, null: bytes = b"") -> bytes:
    """The default output: each value followed by the record delimiter (null as ``null``)."""
    parts = [null if v is None else v for v in values] if None in values else list(values)
    parts.append(b"")
    return delimiter.join(parts)  # type: ignore[arg-type]


def render_keyed(
    records: Sequence[Record], delimiter: bytes, key_delimiter: bytes, null: bytes = b""
) -> bytes:
    """``key DELIM value`` and the record delimiter per record (null as ``null``)."""
    parts = [
        (null if r.key is None else r.key) + key_delimiter
        + (null if r.value is None else r.value)
        for r in records
    ]
    parts.append(b"")
    return delimiter.join(parts)


def _text(data: bytes | None, force_b64: bool) -> tuple[str | None, bool]:
    """(text, is_base64) for JSON."""
    if data is None:
        return None, False
    if not force_b64:
        try:
            return data.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(data).decode("ascii"), True


def record_json(topic: str, partition: int, record: Record, force_b64: bool = False) -> bytes:
    """One JSON line for ``record``."""
    doc: dict[str, Any] = {
        "topic": topic, "partition": partition, "offset": record.offset,
        "timestamp": record.timestamp,
    }
    key, key_b64 = _text(record.key, force_b64)
    value, value_b64 = _text(record.value, force_b64)
    doc["key"] = key
    doc["value"] = value
    headers: dict[str, str | None] = {}
    headers_b64 = force_b64
    if not force_b64:
        try:
            for name, hv in record.headers:
                headers[name] = None if hv is None else hv.decode("utf-8")
        except UnicodeDecodeError:
            headers_b64 = True
    if headers_b64:
        headers = {name: _text(hv, True)[0] for name, hv in record.headers}
    doc["headers"] = headers
    if key_b64:
        doc["key_encoding"] = "base64"
    if value_b64:
        doc["value_encoding"] = "base64"
    if headers_b64 and record.headers:
        doc["headers_encoding"] = "base64"
    return orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE)
