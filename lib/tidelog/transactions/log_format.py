"""Records of ``__transaction_state`` in Kafka's formats (TransactionLogKey and
TransactionLogValue, version 0, big-endian, strings as int16 length + UTF-8)::

    key:   version int16 (0) | transactionalId string
    value: version int16 (0) | producerId int64 | producerEpoch int16
           | transactionTimeoutMs int32 | transactionStatus int8
           | partitions int32 count (-1: null) x (topic string | int32 count x partition int32)
           | lastUpdateTimestampMs int64 | startTimestampMs int64

A null value (tombstone) deletes the transactional id. Malformed bytes raise
:class:`TxnRecordError`, never struct.error or an IndexError. Pure.
"""

from __future__ import annotations

import struct

from tidelog.errors import TidelogError
from tidelog.transactions.state import TxnMetadata, TxnStatus

_H = struct.Struct(">h")
_I = struct.Struct(">i")
_HEAD = struct.Struct(">hqhib")
_TIMES = struct.Struct(">qq")


class TxnRecordError(TidelogError):
    """A ``__transaction_state`` record that does not decode."""


def _string(s: str) -> bytes:
    raw = s.encode()
    return _H.pack(len(raw)) + raw


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, st: struct.Struct) -> tuple[int, ...]:
        if self.pos + st.size > len(self.data):
            raise TxnRecordError("transaction state record ends early")
        out = st.unpack_from(self.data, self.pos)
        self.pos += st.size
        return out

    def string(self) -> str:
        (n,) = self.take(_H)
        if n < 0 or self.pos + n > len(self.data):
            raise TxnRecordError("bad string length in a transaction state record")
        raw = self.data[self.pos:self.pos + n]
        self.pos += n
        try:
            return raw.decode()
        except UnicodeDecodeError as exc:
            raise TxnRecordError(f"transactional id is not UTF-8: {exc}") from None


def encode_key(transactional_id: str) -> bytes:
    return _H.pack(0) + _string(transactional_id)


def decode_key(data: bytes) -> str:
    r = _Reader(data)
    (version,) = r.take(_H)
    if version != 0:
        raise TxnRecordError(f"unknown transaction log key version {version}")
    return r.string()


def encode_value(meta: TxnMetadata) -> bytes:
    by_topic: dict[str, list[int]] = {}
    for topic, p in meta.sorted_partitions():
        by_topic.setdefault(topic, []).append(p)
    parts = [_HEAD.pack(0, meta.producer_id, meta.producer_epoch, meta.timeout_ms,
                        int(meta.status)), _I.pack(len(by_topic))]
    for topic, ps in by_topic.items():
        parts.append(_string(topic))
        parts.append(_I.pack(len(ps)) + b"".join(_I.pack(p) for p in ps))
    parts.append(_TIMES.pack(meta.update_ms, meta.start_ms))
    return b"".join(parts)


def decode_value(transactional_id: str, data: bytes) -> TxnMetadata:
    r = _Reader(data)
    version, pid, epoch, timeout, status = r.take(_HEAD)
    if version not in (0, 1):
        raise TxnRecordError(f"unknown transaction log value version {version}")
    if version == 1:
        raise TxnRecordError("flexible transaction log values (version 1) are not read")
    try:
        txn_status = TxnStatus(status)
    except ValueError:
        raise TxnRecordError(f"unknown transaction status {status}") from None
    partitions: set[tuple[str, int]] = set()
    (count,) = r.take(_I)
    for _ in range(max(0, count)):
        topic = r.string()
        (n,) = r.take(_I)
        for _ in range(max(0, n)):
            partitions.add((topic, r.take(_I)[0]))
    update_ms, start_ms = r.take(_TIMES)
    return TxnMetadata(transactional_id, pid, epoch, timeout, txn_status, partitions,
                       start_ms, update_ms)
