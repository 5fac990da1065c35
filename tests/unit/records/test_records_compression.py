"""The four batch codecs: round trips, the formats other clients write, size bounds, bad data."""

from __future__ import annotations

import contextlib
import gzip
import os
import struct
import zlib

import cramjam
import lz4.frame
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st
from tidelog.records.batch_header import Compression
from tidelog.records.compression import XERIAL_MAGIC, compress, decompress
from tidelog.records.errors import CorruptRecordError, UnsupportedCodecError

CODECS = [Compression.GZIP, Compression.SNAPPY, Compression.LZ4, Compression.ZSTD]
SAMPLE = os.urandom(3000) + b"tidelog " * 20000 + os.urandom(70000)


@pytest.mark.parametrize("codec", [Compression.NONE, *CODECS])
def test_round_trip(codec: int) -> None:
    packed = compress(codec, SAMPLE)
    assert decompress(codec, packed) == SAMPLE
    assert decompress(codec, memoryview(bytearray(packed))) == SAMPLE


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip_empty_input(codec: int) -> None:
    assert decompress(codec, compress(codec, b"")) == b""


@pytest.mark.parametrize(("codec", "level"), [(1, 1), (1, 9), (3, 9), (4, 1), (4, 19), (2, 5)])
def test_levels(codec: int, level: int) -> None:
    assert decompress(codec, compress(codec, SAMPLE, level)) == SAMPLE


def test_gzip_is_a_gzip_stream() -> None:
    packed = compress(Compression.GZIP, SAMPLE)
    assert packed[:2] == b"\x1f\x8b"
    assert gzip.decompress(packed) == SAMPLE


def test_gzip_reads_concatenated_members() -> None:
    assert decompress(Compression.GZIP, gzip.compress(b"ab") + gzip.compress(b"cd")) == b"abcd"


def test_snappy_writes_xerial_framing() -> None:
    packed = compress(Compression.SNAPPY, SAMPLE)
    assert packed[:8] == b"\x82SNAPPY\x00" == XERIAL_MAGIC
    assert struct.unpack(">ii", packed[8:16]) == (1, 1)
    # Walk the blocks by hand: each holds at most 32 KiB of input.
    pos, out = 16, []
    while pos < len(packed):
        (length,) = struct.unpack(">i", packed[pos : pos + 4])
        block = bytes(cramjam.snappy.decompress_raw(packed[pos + 4 : pos + 4 + length]))
        assert len(block) <= 32 * 1024
        out.append(block)
        pos += 4 + length
    assert pos == len(packed)
    assert b"".join(out) == SAMPLE
    assert len(out) == -(-len(SAMPLE) // (32 * 1024))


def test_snappy_reads_raw_block_as_librdkafka_sends() -> None:
    raw = bytes(cramjam.snappy.compress_raw(SAMPLE))
    assert decompress(Compression.SNAPPY, raw) == SAMPLE


def test_snappy_xerial_with_little_endian_versions() -> None:
    # Some producers write the two version ints little-endian; the framing is the same.
    block = bytes(cramjam.snappy.compress_raw(b"hello"))
    payload = XERIAL_MAGIC + struct.pack("<ii", 1, 1) + struct.pack(">i", len(block)) + block
    assert decompress(Compression.SNAPPY, payload) == b"hello"


def test_lz4_frame_has_independent_blocks() -> None:
    packed = compress(Compression.LZ4, SAMPLE)
    assert packed[:4] == b"\x04\x22\x4d\x18"  # LZ4 frame magic, little-endian 0x184D2204
    flg = packed[4]
    assert flg & 0x20, "block independence flag must be set for Kafka's Java reader"
    assert lz4.frame.decompress(packed) == SAMPLE


def test_lz4_reads_frames_with_content_size_and_checksum() -> None:
    packed = lz4.frame.compress(SAMPLE, store_size=True, content_checksum=True)
    assert decompress(Compression.LZ4, packed) == SAMPLE


def test_zstd_reads_frames_without_content_size() -> None:
    packed = zstandard.ZstdCompressor(write_content_size=False).compress(SAMPLE)
    assert zstandard.get_frame_parameters(packed).content_size == zstandard.CONTENTSIZE_UNKNOWN
    assert decompress(Compression.ZSTD, packed) == SAMPLE


def test_zstd_reads_streamed_output_and_several_frames() -> None:
    cctx = zstandard.ZstdCompressor()
    obj = cctx.compressobj()
    streamed = obj.compress(SAMPLE) + obj.flush()
    two = streamed + cctx.compress(b"tail")
    assert decompress(Compression.ZSTD, two) == SAMPLE + b"tail"


@pytest.mark.parametrize("codec", [5, 6, 7, -1])
def test_unknown_codec(codec: int) -> None:
    with pytest.raises(UnsupportedCodecError):
        compress(codec, b"x")
    with pytest.raises(UnsupportedCodecError):
        decompress(codec, b"x")


@pytest.mark.parametrize("codec", CODECS)
def test_truncated_payload(codec: int) -> None:
    packed = compress(codec, SAMPLE)
    for cut in (1, 4, len(packed) // 2, len(packed) - 1):
        with pytest.raises(CorruptRecordError):
            decompress(codec, packed[:cut])


@pytest.mark.parametrize("codec", CODECS)
def test_empty_payload(codec: int) -> None:
    with pytest.raises(CorruptRecordError):
        decompress(codec, b"")


@pytest.mark.parametrize("codec", CODECS)
def test_trailing_garbage(codec: int) -> None:
    with pytest.raises(CorruptRecordError):
        decompress(codec, compress(codec, SAMPLE) + b"\x07garbage")


@pytest.mark.parametrize("codec", CODECS)
def test_size_bound_stops_a_bomb(codec: int) -> None:
    bomb = compress(codec, bytes(8 * 1024 * 1024))
    assert len(bomb) < 512 * 1024
    with pytest.raises(CorruptRecordError, match="more than"):
        decompress(codec, bomb, max_size=1024 * 1024)
    assert len(decompress(codec, bomb, max_size=8 * 1024 * 1024)) == 8 * 1024 * 1024


def test_zstd_bound_without_content_size() -> None:
    bomb = zstandard.ZstdCompressor(write_content_size=False).compress(bytes(8 * 1024 * 1024))
    with pytest.raises(CorruptRecordError, match="more than"):
        decompress(Compression.ZSTD, bomb, max_size=100_000)


def test_xerial_bad_block_length() -> None:
    header = XERIAL_MAGIC + struct.pack(">ii", 1, 1)
    for tail in (struct.pack(">i", 100) + b"abc", struct.pack(">i", -5), b"\x00\x00"):
        with pytest.raises(CorruptRecordError):
            decompress(Compression.SNAPPY, header + tail)


def test_gzip_rejects_zlib_stream() -> None:
    with pytest.raises(CorruptRecordError):
        decompress(Compression.GZIP, zlib.compress(SAMPLE))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(CODECS), st.binary(max_size=200))
def test_garbage_raises_only_corrupt(codec: int, raw: bytes) -> None:
    with contextlib.suppress(CorruptRecordError):
        decompress(codec, raw, max_size=1 << 20)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(CODECS), st.binary(max_size=2000), st.data())
def test_corrupted_payload_raises_only_corrupt(
    codec: int, data: bytes, draw: st.DataObject
) -> None:
    packed = bytearray(compress(codec, data))
    index = draw.draw(st.integers(0, len(packed) - 1))
    packed[index] ^= draw.draw(st.integers(1, 255))
    with contextlib.suppress(CorruptRecordError):
        decompress(codec, bytes(packed), max_size=1 << 20)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([Compression.NONE, *CODECS]), st.binary(max_size=5000))
def test_round_trip_property(codec: int, data: bytes) -> None:
    assert decompress(codec, compress(codec, data)) == data
