"""FrameDecoder fed in arbitrary chunks, size-prefix errors, frame() and join_parts()."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tidelog.protocol import FrameDecoder, FrameSizeError, TruncatedMessageError, frame, join_parts


def _framed(payloads: list[bytes]) -> bytes:
    return b"".join(struct.pack(">i", len(p)) + p for p in payloads)


PAYLOADS = [b"", b"a", b"hello world", bytes(range(256)) * 3]


def test_byte_at_a_time() -> None:
    stream = _framed(PAYLOADS)
    dec = FrameDecoder(1 << 20)
    got: list[bytes] = []
    for i in range(len(stream)):
        got.extend(dec.feed(stream[i : i + 1]))
    assert got == PAYLOADS
    assert dec.buffered == 0
    dec.close()


def test_many_frames_in_one_chunk() -> None:
    dec = FrameDecoder(1 << 20)
    assert dec.feed(_framed(PAYLOADS * 3)) == PAYLOADS * 3


@settings(max_examples=30, deadline=None)
@given(
    payloads=st.lists(st.binary(max_size=40), max_size=6),
    cuts=st.lists(st.integers(0, 300), max_size=8),
)
def test_any_chunking(payloads: list[bytes], cuts: list[int]) -> None:
    stream = _framed(payloads)
    points = sorted({c for c in cuts if c < len(stream)} | {0, len(stream)})
    dec = FrameDecoder(100)
    got: list[bytes] = []
    for a, b in itertools.pairwise(points):
        got.extend(dec.feed(memoryview(stream)[a:b]))
    assert got == payloads
    dec.close()


def test_truncated_stream_is_reported_on_close() -> None:
    stream = _framed([b"complete", b"partial"])[:-3]
    dec = FrameDecoder(1024)
    assert dec.feed(stream) == [b"complete"]
    assert dec.buffered > 0
    with pytest.raises(TruncatedMessageError):
        dec.close()


def test_half_a_size_prefix_is_truncated_too() -> None:
    dec = FrameDecoder(1024)
    assert dec.feed(b"\x00\x00") == []
    with pytest.raises(TruncatedMessageError):
        dec.close()


@pytest.mark.parametrize("size", [-1, -(1 << 31), 1025])
def test_bad_sizes_raise_a_distinct_error(size: int) -> None:
    dec = FrameDecoder(1024)
    good = _framed([b"ok"])
    with pytest.raises(FrameSizeError) as info:
        dec.feed(good + struct.pack(">i", size) + b"x")
    assert info.value.position == len(good)
    # The stream cannot be resynchronised: the decoder stays failed.
    with pytest.raises(FrameSizeError):
        dec.feed(b"")


def test_max_size_is_inclusive() -> None:
    dec = FrameDecoder(4)
    assert dec.feed(_framed([b"abcd"])) == [b"abcd"]


class FileRegion:
    """Stands in for an opaque records object (e.g. a file region to sendfile)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __bytes__(self) -> bytes:
        return self.data


def test_frame_and_join_parts_with_opaque_parts() -> None:
    parts = [b"head", FileRegion(b"0123456789"), bytearray(b"tail")]
    framed = frame(parts)
    assert framed[0] == struct.pack(">i", 18)
    assert framed[1:] == parts
    joined = join_parts(framed)
    assert joined == struct.pack(">i", 18) + b"head0123456789tail"
    assert FrameDecoder(100).feed(joined) == [b"head0123456789tail"]
