"""``__transaction_state`` records in Kafka's formats, and control records: golden bytes,
round trips, and malformed input that raises the project's error."""

from __future__ import annotations

import pytest
from tidelog.records.control import ABORT, COMMIT, Marker, decode_marker, encode_marker
from tidelog.records.errors import CorruptRecordError
from tidelog.transactions.log_format import (
    TxnRecordError,
    decode_key,
    decode_value,
    encode_key,
    encode_value,
)
from tidelog.transactions.state import TxnMetadata, TxnStatus


def test_key_is_version_0_and_the_id_as_a_short_string() -> None:
    assert encode_key("tx") == bytes.fromhex("0000 0002 7478")
    assert decode_key(encode_key("tx-ü")) == "tx-ü"


def test_value_golden_bytes_and_round_trip() -> None:
    meta = TxnMetadata("t", producer_id=5, producer_epoch=2, timeout_ms=60000,
                       status=TxnStatus.ONGOING, partitions={("a", 1), ("a", 0)},
                       start_ms=10, update_ms=11)
    raw = encode_value(meta)
    assert raw == bytes.fromhex(
        "0000" "0000000000000005" "0002" "0000ea60" "01"  # version, pid, epoch, timeout, status
        "00000001" "0001" "61" "00000002" "00000000" "00000001"  # one topic, partitions 0, 1
        "000000000000000b" "000000000000000a")  # last update, start
    back = decode_value("t", raw)
    assert (back.producer_id, back.producer_epoch, back.timeout_ms, back.status,
            back.partitions, back.start_ms, back.update_ms) == (
        5, 2, 60000, TxnStatus.ONGOING, {("a", 0), ("a", 1)}, 10, 11)


def test_every_truncation_and_bad_field_raises_txn_record_error() -> None:
    raw = encode_value(TxnMetadata("t", 5, 2, 60000, TxnStatus.ONGOING, {("a", 0)}, 1, 2))
    for cut in range(len(raw)):
        with pytest.raises(TxnRecordError):
            decode_value("t", raw[:cut])
    with pytest.raises(TxnRecordError):
        decode_value("t", raw[:16] + b"\x63" + raw[17:])  # status 99
    with pytest.raises(TxnRecordError):
        decode_key(b"\x00\x01\x00\x00")  # key version 1
    with pytest.raises(TxnRecordError):
        decode_key(b"\x00\x00\x00\x02\xff\xfe")  # not UTF-8


def test_markers() -> None:
    key, value = encode_marker(Marker(COMMIT, 7))
    assert (key, value) == (bytes.fromhex("0000 0001"), bytes.fromhex("0000 00000007"))
    assert decode_marker(key, value) == Marker(COMMIT, 7)
    assert decode_marker(bytes.fromhex("0000 0000"), None) == Marker(ABORT, -1)
    with pytest.raises(CorruptRecordError):
        decode_marker(b"\x00", value)
