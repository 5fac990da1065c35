"""A minimal blocking Kafka client for tests: tidelog's own protocol codecs over a socket.

It exists to send exactly the requests a test needs (odd versions, bad batches, pipelining,
raw bytes) and read the decoded answers; real clients are tested in tests/compat.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import struct
from collections.abc import Iterator
from typing import Any

from tidelog.protocol import RequestHeader, Struct, decode_response, encode_request, join_parts
from tidelog.records.builder import build_batch
from tidelog.records.reader import iter_decoded_batches
from tidelog.records.record import NewRecord

_SIZE = struct.Struct(">i")


class WireClient:
    def __init__(self, bootstrap: str, timeout: float = 10.0,
                 client_id: str = "tidelog-tests") -> None:
        host, port = bootstrap.rsplit(":", 1)
        self.client_id = client_id
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self._ids = itertools.count(1)
        self.pending: list[tuple[int, int, int]] = []
        self._held: list[bytes] | None = None

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> WireClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, api_key: int, version: int, body: dict[str, Any] | Struct) -> int:
        cid = next(self._ids)
        header = RequestHeader(api_key, version, cid, self.client_id)
        payload = join_parts(encode_request(header, body))
        self.send_raw(_SIZE.pack(len(payload)) + payload)
        self.pending.append((api_key, version, cid))
        return cid

    def send_raw(self, data: bytes) -> None:
        if self._held is not None:
            self._held.append(data)
        else:
            self.sock.sendall(data)

    @contextlib.contextmanager
    def batched(self) -> Iterator[None]:
        """Send everything sent inside the block with one sendall (one TCP segment)."""
        self._held = []
        try:
            yield
        finally:
            held, self._held = self._held, None
            self.sock.sendall(b"".join(held))

    def read_frame(self) -> bytes:
        size = _SIZE.unpack(self._read_exact(4))[0]
        return self._read_exact(size)

    def _read_exact(self, n: int) -> bytes:
        chunks = []
        while n:
            chunk = self.sock.recv(n)
            if not chunk:
                raise ConnectionError("connection closed by the broker")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def receive(self) -> tuple[int, Struct]:
        api_key, version, cid = self.pending.pop(0)
        header, body = decode_response(api_key, version, self.read_frame())
        assert header.correlation_id == cid, (header.correlation_id, cid)
        return cid, body

    def request(self, api_key: int, version: int, body: dict[str, Any] | Struct) -> Struct:
        self.send(api_key, version, body)
        return self.receive()[1]


def batch(values: list[bytes], **kwargs: Any) -> bytes:
    return build_batch([NewRecord(v, key=b"k") for v in values], **kwargs)


def produce_body(topic: str, records: bytes | None, partition: int = 0, acks: int = -1) -> dict[
    str, Any
]:
    return {
        "acks": acks, "timeout_ms": 5000,
        "topic_data": [{"name": topic, "partition_data": [
            {"index": partition, "records": records}]}],
    }


def fetch_body(topic: str, offset: int, *, partition: int = 0, max_wait_ms: int = 0,
               min_bytes: int = 1, max_bytes: int = 1 << 24,
               partition_max_bytes: int = 1 << 24) -> dict[str, Any]:
    return {
        "max_wait_ms": max_wait_ms, "min_bytes": min_bytes, "max_bytes": max_bytes,
        "topics": [{"topic": topic, "partitions": [
            {"partition": partition, "fetch_offset": offset,
             "partition_max_bytes": partition_max_bytes}]}],
    }


def values_of(records: Any) -> list[bytes | None]:
    data = bytes(records or b"")
    return [r.value for b in iter_decoded_batches(data) for r in b.records()]
