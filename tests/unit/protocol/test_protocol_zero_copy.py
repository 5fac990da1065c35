"""Records travel without copies: memoryview slices in, caller objects out."""

from __future__ import annotations

import struct

from tidelog.protocol import (
    RequestHeader,
    ResponseHeader,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    frame,
    join_parts,
)


class Region:
    """An opaque records object: only its length is known to the encoder."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __bytes__(self) -> bytes:
        return self.data


def test_produce_records_are_slices_of_the_frame() -> None:
    batch_a, batch_b = b"A" * 70, b"B" * 33
    for version in (3, 8, 9, 10):
        body = {"acks": -1, "timeout_ms": 10, "topic_data": [{"name": "t", "partition_data": [
            {"index": 0, "records": batch_a}, {"index": 1, "records": batch_b},
            {"index": 2, "records": None}]}]}
        wire = join_parts(encode_request(RequestHeader(0, version, 1, "c"), body))
        frame_buf = bytearray(wire)
        _, decoded = decode_request(frame_buf)
        a, b, c = (p.records for p in decoded.topic_data[0].partition_data)
        assert (bytes(a), bytes(b), c) == (batch_a, batch_b, None)
        assert a.obj is frame_buf and b.obj is frame_buf  # views into the frame, no copy
        frame_buf[wire.index(batch_a)] = ord("Z")  # a write to the frame shows through
        assert bytes(a[:1]) == b"Z"


def test_fetch_response_parts_hold_the_callers_objects() -> None:
    region_a, region_b = Region(b"x" * 1000), Region(b"y" * 10)
    for version in (4, 11, 12, 16):
        body = {"responses": [{"topic": "t", "partitions": [
            {"partition_index": 0, "high_watermark": 5, "records": region_a},
            {"partition_index": 1, "high_watermark": 6, "records": None},
            {"partition_index": 2, "high_watermark": 7, "records": region_b},
        ]}]}
        parts = encode_response(ResponseHeader(9), 1, version, body)
        assert any(part is region_a for part in parts)
        assert any(part is region_b for part in parts)
        assert all(isinstance(part, bytes) or part in (region_a, region_b) for part in parts)
        framed = frame(parts)
        total = sum(len(part) for part in framed)
        assert struct.unpack(">i", framed[0])[0] == total - 4
        _, decoded = decode_response(1, version, join_parts(parts))
        recs = [p.records for p in decoded.responses[0].partitions]
        assert bytes(recs[0]) == region_a.data
        assert recs[1] is None
        assert bytes(recs[2]) == region_b.data
