"""Render record batches and records as kafka-dump-log lines or as JSON-ready dicts.

Batch line (one per batch, exactly Kafka's DumpLogSegments wording and order)::

    baseOffset: 0 lastOffset: 0 count: 1 baseSequence: 0 lastSequence: 0 producerId: 1
    producerEpoch: 0 partitionLeaderEpoch: 0 isTransactional: false isControl: false
    deleteHorizonMs: OptionalLong.empty position: 0 CreateTime: 1742739702864 size: 82 magic: 2
    compresscodec: none crc: 758896000 isvalid: true

(on one line). ``CreateTime:``/``LogAppendTime:`` labels the batch's maxTimestamp; ``size`` is
batchLength + 12; ``crc`` is the stored CRC as an unsigned decimal; ``deleteHorizonMs`` is
``OptionalLong[<baseTimestamp>]`` when attribute bit 6 is set.

Record line: ``| offset: 0 CreateTime: 1742739702864 keySize: -1 valueSize: 14 sequence: 0
headerKeys: []`` then, for a control batch, ``endTxnMarker: COMMIT coordinatorEpoch: 3`` or
``controlType: LEADER_CHANGE(2)``, else with print-data `` key: ...`` (when the key is not
null) and `` payload: ...`` (when the value is not null). Key and payload are decoded as UTF-8;
bytes that are not UTF-8 show as ``\\xNN`` and control characters as ``\\n``, ``\\r``, ``\\t``
or ``\\xNN``, so every record stays on one line (Kafka prints them raw).

JSON: the same fields under Kafka's names (see :func:`batch_json`, :func:`record_json`); bytes
become a UTF-8 string when they are valid UTF-8 without NUL, else base64, and a sibling field
``...Encoding`` says which ("utf-8" or "base64"; null for a null key or value).

KRaft's control records print as Kafka prints them: ``LeaderChange: {...}``,
``SnapshotHeader {...}``, ``SnapshotFooter {...}``, ``KRaftVersion {...}``, ``KRaftVoters
{...}`` (JSON as :mod:`tidelog.metadata.kafka_json` renders it). With the cluster metadata
decoder (``--cluster-metadata-decoder``) a record's payload is its metadata record as JSON
(``{"type":"TOPIC_RECORD","version":0,"data":{...}}``) or Kafka's ``Error at <offset>,
skipping. <why>``; in JSON output it is the ``metadata`` object (or ``metadataError``).

Pure functions; malformed control records fall back to ``controlType: UNKNOWN(-1)``.
"""

from __future__ import annotations

import base64
import contextlib
import struct
from typing import Any

import orjson

from tidelog.metadata.errors import MetadataError
from tidelog.metadata.kafka_json import CONTROL_LABELS, control_json, metadata_json
from tidelog.records.batch_header import BatchHeader, TimestampType
from tidelog.records.record import Record

#: Kafka's ControlRecordType ids.
CONTROL_TYPES = {
    0: "ABORT",
    1: "COMMIT",
    2: "LEADER_CHANGE",
    3: "SNAPSHOT_HEADER",
    4: "SNAPSHOT_FOOTER",
    5: "KRAFT_VERSION",
    6: "KRAFT_VOTERS",
}
_CONTROL_KEY = struct.Struct(">hh")  # version, type
_END_TXN_VALUE = struct.Struct(">hi")  # version, coordinatorEpoch

# Control characters that would break the one-record-per-line layout, mapped once.
_ESCAPES = {code: f"\\x{code:02x}" for code in range(0x20)}
_ESCAPES.update({0x7F: "\\x7f", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"})
_ESCAPE_TABLE = str.maketrans(_ESCAPES)


def java_bool(value: bool) -> str:
    return "true" if value else "false"


def timestamp_label(header: BatchHeader) -> str:
    """``CreateTime`` or ``LogAppendTime``, as Java's TimestampType prints."""
    return (
        "LogAppendTime" if header.timestamp_type == TimestampType.LOG_APPEND_TIME else "CreateTime"
    )


def delete_horizon(header: BatchHeader) -> int | None:
    """The delete horizon (ms) of a compacted batch, None when attribute bit 6 is clear."""
    return header.base_timestamp if header.has_delete_horizon else None


def batch_line(header: BatchHeader, position: int, valid: bool) -> str:
    """Kafka's batch line for the batch at byte ``position``."""
    horizon = delete_horizon(header)
    horizon_text = "OptionalLong.empty" if horizon is None else f"OptionalLong[{horizon}]"
    return (
        f"baseOffset: {header.base_offset} lastOffset: {header.last_offset} "
        f"count: {header.records_count} baseSequence: {header.base_sequence} "
        f"lastSequence: {header.last_sequence} producerId: {header.producer_id} "
        f"producerEpoch: {header.producer_epoch} "
        f"partitionLeaderEpoch: {header.partition_leader_epoch} "
        f"isTransactional: {java_bool(header.is_transactional)} "
        f"isControl: {java_bool(header.is_control)} deleteHorizonMs: {horizon_text} "
        f"position: {position} {timestamp_label(header)}: {header.max_timestamp} "
        f"size: {header.size} magic: {header.magic} compresscodec: {header.compression_name} "
        f"crc: {header.crc} isvalid: {java_bool(valid)}"
    )


def batch_json(header: BatchHeader, position: int, valid: bool, file: str) -> dict[str, Any]:
    """The batch as a JSON object with the batch line's fields."""
    return {
        "type": "batch",
        "file": file,
        "baseOffset": header.base_offset,
        "lastOffset": header.last_offset,
        "count": header.records_count,
        "baseSequence": header.base_sequence,
        "lastSequence": header.last_sequence,
        "producerId": header.producer_id,
        "producerEpoch": header.producer_epoch,
        "partitionLeaderEpoch": header.partition_leader_epoch,
        "isTransactional": header.is_transactional,
        "isControl": header.is_control,
        "deleteHorizonMs": delete_horizon(header),
        "position": position,
        "timestampType": timestamp_label(header),
        "maxTimestamp": header.max_timestamp,
        "size": header.size,
        "magic": header.magic,
        "compresscodec": header.compression_name,
        "crc": header.crc,
        "isvalid": valid,
    }


def printable(data: bytes) -> str:
    """``data`` as one line of text: UTF-8, with bad bytes and control characters escaped."""
    return data.decode("utf-8", "backslashreplace").translate(_ESCAPE_TABLE)


def json_bytes(data: bytes | None) -> tuple[str | None, str | None]:
    """``(text, encoding)`` for JSON: UTF-8 text when possible, else base64; (None, None)
    for null. Text with NUL is base64 too: it is binary in all but name."""
    if data is None:
        return None, None
    if b"\x00" not in data:
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    return base64.b64encode(data).decode("ascii"), "base64"


class ControlInfo:
    """What a control record says: its type and, for transaction markers, the epoch; for
    KRaft's control records (LeaderChange, SnapshotHeader, ...) their body as Kafka prints
    it (``kraft``: label and JSON)."""

    __slots__ = ("coordinator_epoch", "kraft", "type_id", "type_name")

    def __init__(self, record: Record) -> None:
        self.type_id = -1
        self.coordinator_epoch: int | None = None
        self.kraft: tuple[str, dict[str, Any]] | None = None
        key = record.key
        if key is not None and len(key) >= _CONTROL_KEY.size:
            _, self.type_id = _CONTROL_KEY.unpack_from(key)
        self.type_name = CONTROL_TYPES.get(self.type_id, "UNKNOWN")
        value = record.value
        if self.type_id in (0, 1) and value is not None and len(value) >= _END_TXN_VALUE.size:
            _, self.coordinator_epoch = _END_TXN_VALUE.unpack_from(value)
        elif self.type_id in CONTROL_LABELS:
            with contextlib.suppress(MetadataError):  # unreadable: shown by its type alone
                self.kraft = control_json(key, value)

    def text(self) -> str:
        if self.coordinator_epoch is not None:
            return f" endTxnMarker: {self.type_name} coordinatorEpoch: {self.coordinator_epoch}"
        if self.kraft is not None:
            label, body = self.kraft
            return f" {label} {_compact_json(body)}"
        return f" controlType: {self.type_name}({self.type_id})"

    def json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"controlType": self.type_name, "controlTypeId": self.type_id}
        if self.coordinator_epoch is not None:
            doc["coordinatorEpoch"] = self.coordinator_epoch
        if self.kraft is not None:
            doc["control"] = self.kraft[1]
        return doc


def _compact_json(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def metadata_payload(record: Record) -> str | dict[str, Any]:
    """A metadata record's payload as kafka-dump-log's cluster metadata decoder shows it (its
    JSON object), or Kafka's ``Error at <offset>, skipping. ...`` text."""
    if record.value is None:
        return f"Error at {record.offset}, skipping. null value"
    try:
        return metadata_json(record.value)
    except MetadataError as exc:
        return f"Error at {record.offset}, skipping. {exc}"


def _size(data: bytes | None) -> int:
    return -1 if data is None else len(data)


def record_line(header: BatchHeader, record: Record, print_data: bool,
                cluster_metadata: bool = False) -> str:
    """Kafka's ``| offset: ...`` line for one record."""
    head = (
        f"| offset: {record.offset} {timestamp_label(header)}: {record.timestamp} "
        f"keySize: {_size(record.key)} valueSize: {_size(record.value)} "
        f"sequence: {record.sequence} "
        f"headerKeys: [{','.join(name for name, _ in record.headers)}]"
    )
    if header.is_control:
        return head + ControlInfo(record).text()
    if not print_data:
        return head
    if cluster_metadata:  # no keys for metadata records, as in Kafka
        payload = metadata_payload(record)
        text = payload if isinstance(payload, str) else _compact_json(payload)
        return f"{head} payload: {text}"
    parts = [head]
    if record.key is not None:
        parts.append(f" key: {printable(record.key)}")
    if record.value is not None:
        parts.append(f" payload: {printable(record.value)}")
    return "".join(parts)


def record_json(header: BatchHeader, record: Record, print_data: bool,
                cluster_metadata: bool = False) -> dict[str, Any]:
    """One record as a JSON object (data fields only with ``print_data``)."""
    doc: dict[str, Any] = {
        "offset": record.offset,
        "timestamp": record.timestamp,
        "keySize": _size(record.key),
        "valueSize": _size(record.value),
        "sequence": record.sequence,
        "headerKeys": [name for name, _ in record.headers],
    }
    if header.is_control:
        doc.update(ControlInfo(record).json())
    if print_data:
        doc["key"], doc["keyEncoding"] = json_bytes(record.key)
        doc["payload"], doc["payloadEncoding"] = json_bytes(record.value)
        headers = []
        for name, value in record.headers:
            text, encoding = json_bytes(value)
            headers.append({"key": name, "value": text, "valueEncoding": encoding})
        doc["headers"] = headers
        if cluster_metadata and not header.is_control:
            payload = metadata_payload(record)
            doc["metadata" if isinstance(payload, dict) else "metadataError"] = payload
    return doc
