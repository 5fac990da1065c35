"""Start positions (-o), delimiter escapes, key=value options and the output formats of
log-consume (kcat's -f tokens, JSON lines)."""

from __future__ import annotations

import base64

import orjson
import pytest
from tidelog.cli.clients.common import parse_pairs, unescape
from tidelog.cli.clients.fmt import Formatter, record_json, render_keyed, render_values
from tidelog.cli.errors import UsageError
from tidelog.client.errors import BrokerError, ClientError
from tidelog.client.offsets import BEGINNING, END, OffsetSpec, parse_offset
from tidelog.records.record import Record


@pytest.mark.parametrize(("text", "spec"), [
    ("beginning", BEGINNING), ("earliest", BEGINNING), ("end", END), ("latest", END),
    ("42", OffsetSpec("absolute", 42)), ("-10", OffsetSpec("from_end", 10)),
    ("+3", OffsetSpec("from_beginning", 3)), ("@1700000000000", OffsetSpec("timestamp",
                                                                           1700000000000)),
    ("@2023-11-14T22:13:20", OffsetSpec("timestamp", 1700000000000)),
    ("@2023-11-14T23:13:20+01:00", OffsetSpec("timestamp", 1700000000000)),
])
def test_offsets(text: str, spec: OffsetSpec) -> None:
    assert parse_offset(text) == spec


@pytest.mark.parametrize("text", ["", "soon", "@yesterday", "1.5", "--3"])
def test_bad_offsets(text: str) -> None:
    with pytest.raises(ClientError, match="bad offset"):
        parse_offset(text)


def test_unescape() -> None:
    assert unescape("\\n") == b"\n"
    assert unescape("a\\tb\\0\\\\\\x41") == b"a\tb\0\\A"
    assert unescape("\\q") == b"\\q"
    assert unescape(":") == b":"


def test_pairs() -> None:
    assert parse_pairs(["a=1", "b==2", "c="], "header") == [("a", "1"), ("b", "=2"), ("c", "")]
    with pytest.raises(UsageError, match="NAME=VALUE"):
        parse_pairs(["novalue"], "config")


REC = Record(7, 1700000000123, b"k1", b"hello", (("h1", b"x"), ("h2", None)), -1, 20)
NULLS = Record(8, 5, None, None, (), -1, 7)


def test_formatter_tokens() -> None:
    fmt = Formatter(unescape("%t|%p|%o|%k|%K|%s|%S|%T|%h|%%\\n"))
    assert fmt.render("tp", 3, [REC, NULLS]) == (
        b"tp|3|7|k1|2|hello|5|1700000000123|h1=x,h2=|%\n"
        b"tp|3|8||-1||-1|5||%\n"
    )


@pytest.mark.parametrize("bad", [b"%q", b"ends with %"])
def test_formatter_errors(bad: bytes) -> None:
    with pytest.raises(UsageError):
        Formatter(bad)


def test_default_renderers() -> None:
    assert render_values([b"a", None, b"c"], b"\n") == b"a\n\nc\n"
    assert render_keyed([REC, NULLS], b"\n", b":") == b"k1:hello\n:\n"


def test_json_text_and_base64() -> None:
    doc = orjson.loads(record_json("t", 0, REC))
    assert doc == {"topic": "t", "partition": 0, "offset": 7, "timestamp": 1700000000123,
                   "key": "k1", "value": "hello", "headers": {"h1": "x", "h2": None}}
    binary = Record(1, 2, b"\xff", b"ok", (("h", b"\xfe"),), -1, 9)
    doc = orjson.loads(record_json("t", 1, binary))
    assert doc["key"] == base64.b64encode(b"\xff").decode() and doc["key_encoding"] == "base64"
    assert doc["value"] == "ok" and "value_encoding" not in doc
    assert doc["headers"] == {"h": base64.b64encode(b"\xfe").decode()}
    assert doc["headers_encoding"] == "base64"
    forced = orjson.loads(record_json("t", 1, REC, force_b64=True))
    assert base64.b64decode(forced["value"]) == b"hello"
    assert forced["value_encoding"] == "base64"


def test_broker_error_messages_and_retriable() -> None:
    error = BrokerError(6, "produce to t/0")
    assert error.retriable
    assert "NOT_LEADER_OR_FOLLOWER" in str(error) and "produce to t/0" in str(error)
    assert not BrokerError(36).retriable
    assert "UNKNOWN_9999" in str(BrokerError(9999))
