"""scan_keys, the log cleaner's key scan, agrees with the full decoder on every batch, by its
shape patterns and by its walk, and refuses malformed ones with CorruptRecordError."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tidelog.records import Compression, CorruptRecordError, NewRecord, build_batch, decode_batch
from tidelog.records import keys as keys_module
from tidelog.records.batch_header import HEADER_SIZE, restamp_crc
from tidelog.records.keys import scan_keys

# The fixture only sets module constants, the same for every example.
_FIXTURE = [HealthCheck.function_scoped_fixture]

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


@pytest.fixture(params=["walk", "shape"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Scan by the walk only, or compile every shape at first sight."""
    if request.param == "walk":
        monkeypatch.setattr(keys_module, "MAX_SHAPE_RECORDS", 0)
    else:
        monkeypatch.setattr(keys_module, "SHAPE_AFTER", 0)
    return str(request.param)


def _scanned(data: bytes, pos: int = 0) -> list[tuple[int, bytes | None, bool]]:
    scan = scan_keys(data, pos)
    return list(zip(scan.offsets, scan.keys, scan.nulls, strict=True))


@settings(max_examples=100, deadline=None, suppress_health_check=_FIXTURE)
@given(records=_records, codec=st.sampled_from([Compression.NONE, Compression.GZIP,
                                                 Compression.ZSTD]),
       base=st.integers(0, 1 << 40), prefix=st.binary(max_size=3))
def test_scan_keys_matches_the_decoder(
    way: str, records: list[NewRecord], codec: int, base: int, prefix: bytes
) -> None:
    data = prefix + build_batch(records, base_offset=base, compression=codec)
    decoded = list(decode_batch(data, len(prefix)).records())
    assert scan_keys(data, len(prefix)).header == decode_batch(data, len(prefix)).header
    assert _scanned(data, len(prefix)) == [(r.offset, r.key, r.value is None) for r in decoded]


# Uniform batches (one key length, one value length or null values, no headers): the shapes
# the patterns take, with timestamp deltas of every varint size a pattern allows and beyond.
_uniform = st.tuples(
    st.integers(1, 300),  # records
    st.integers(0, 40),  # key length
    st.none() | st.integers(0, 300),  # value length
    st.sampled_from([0, 1, 100, 10_000, 1 << 20, 1 << 30, 1 << 40]),  # timestamp step
)


@settings(max_examples=100, deadline=None, suppress_health_check=_FIXTURE)
@given(shape=_uniform, codec=st.sampled_from([Compression.NONE, Compression.LZ4]),
       base=st.integers(0, 1 << 40))
def test_uniform_batches_match_the_decoder(
    way: str, shape: tuple[int, int, int | None, int], codec: int, base: int
) -> None:
    n, klen, vlen, step = shape
    records = [
        NewRecord(None if vlen is None else bytes([i % 251]) * vlen,
                  (b"%d-" % i * klen)[:klen], (), 1000 + i * step)
        for i in range(n)
    ]  # fmt: skip
    data = build_batch(records, base_offset=base, compression=codec)
    decoded = list(decode_batch(data).records())
    assert _scanned(data) == [(r.offset, r.key, r.value is None) for r in decoded]
    if way == "shape" and step < 1 << 20:
        assert isinstance(scan_keys(data).offsets, range)  # the pattern answered


def test_a_shape_is_compiled_on_its_eighth_sighting() -> None:
    data = build_batch([NewRecord(b"v" * 7, b"k%04d" % i) for i in range(77)])
    results = [scan_keys(data) for _ in range(keys_module.SHAPE_AFTER)]
    assert [isinstance(r.offsets, range) for r in results] == [False] * 7 + [True]
    assert len({tuple(zip(r.offsets, r.keys, r.nulls, strict=True)) for r in results}) == 1


def test_a_batch_that_breaks_its_first_records_shape_is_walked(way: str) -> None:
    # Same first record, then a header, a longer value, a null value, a null key.
    plain = [NewRecord(b"vv", b"kk") for _ in range(5)]
    odd = [
        NewRecord(b"vv", b"kk", (("h", b"x"),)),
        NewRecord(b"vvv", b"kk"),
        NewRecord(None, b"kk"),
        NewRecord(b"vv", None),
    ]
    for rec in odd:
        data = build_batch([*plain, rec, *plain])
        decoded = list(decode_batch(data).records())
        assert _scanned(data) == [(r.offset, r.key, r.value is None) for r in decoded]


def test_malformed_batches_raise(way: str) -> None:
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
