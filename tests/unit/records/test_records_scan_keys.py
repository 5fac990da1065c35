"""scan_keys, the log cleaner's key scan, agrees with the full decoder on every batch and
refuses malformed ones with CorruptRecordError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tidelog.records import Compression, CorruptRecordError, NewRecord, build_batch, decode_batch
from tidelog.records.batch_header import HEADER_SIZE, restamp_crc
from tidelog.records.reader import scan_keys

_records = st.lists(
    st.builds(
        NewRecord,
        st.none() | st.binary(max_size=300),
        st.none() | st.binary(max_size=40),
        st.lists(st.tuples(st.text(max_size=4), st.none() | st.binary(max_size=4)), max_size=2),
        st.integers(0, 1 << 40),
    ),
    min_size=1, max_size=30,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(records=_records, codec=st.sampled_from([Compression.NONE, Compression.GZIP,
                                                 Compression.ZSTD]),
       base=st.integers(0, 1 << 40), prefix=st.binary(max_size=3))
def test_scan_keys_matches_the_decoder(
    records: list[NewRecord], codec: int, base: int, prefix: bytes
) -> None:
    data = prefix + build_batch(records, base_offset=base, compression=codec)
    header, scanned = scan_keys(data, len(prefix))
    decoded = list(decode_batch(data, len(prefix)).records())
    assert header == decode_batch(data, len(prefix)).header
    assert scanned == [(r.offset, r.key, r.value is None) for r in decoded]


def test_malformed_batches_raise() -> None:
    good = bytearray(build_batch([NewRecord(b"v", b"k"), NewRecord(None, b"k2")]))
    bad_crc = bytearray(good)
    bad_crc[-1] ^= 0xFF
    with pytest.raises(CorruptRecordError):
        scan_keys(bytes(bad_crc))
    # A record length running past the batch, with a correct CRC.
    long = bytearray(good)
    long[HEADER_SIZE] = 0x7E  # zigzag 63
    restamp_crc(long)
    with pytest.raises(CorruptRecordError):
        scan_keys(bytes(long))
    # Trailing bytes inside the batch after its records.
    trailing = bytearray(build_batch([NewRecord(b"v", b"k")]))
    trailing += b"\x00"
    trailing[8:12] = (int.from_bytes(trailing[8:12], "big") + 1).to_bytes(4, "big")
    restamp_crc(trailing)
    with pytest.raises(CorruptRecordError):
        scan_keys(bytes(trailing))
