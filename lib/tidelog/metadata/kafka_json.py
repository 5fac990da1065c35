"""Metadata and control records as JSON, the way Apache Kafka's tools print them.

``kafka-dump-log --cluster-metadata-decoder`` prints each metadata record as
``{"type":"TOPIC_RECORD","version":0,"data":{"name":"t","topicId":"..."}}`` (the record
type's name in upper snake case, the record version, and the body as Kafka's generated JSON
converters write it) and control records as ``SnapshotHeader {"version":0,...}``. The JSON of
a body follows those converters: fields in schema order under their camelCase names, every
field of the version, tagged fields only when they differ from their default, UUIDs as
Kafka's base64url text, bytes as standard base64. tidelog's own tagged field (the cluster id
carried by a NoOpRecord) is left out, as Kafka's readers skip it. Pure functions.
"""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

from tidelog.metadata import frames
from tidelog.metadata.errors import MetadataError
from tidelog.metadata.uuids import uuid_to_str
from tidelog.protocol.data import Struct
from tidelog.protocol.messages.kraft import CLUSTER_ID_TAG, CONTROL
from tidelog.protocol.schema import _UNSET, Field
from tidelog.records.crc import BytesLike

#: kafka-dump-log's label of each control record type
CONTROL_LABELS = {3: "SnapshotHeader", 4: "SnapshotFooter", 5: "KRaftVersion",
                  6: "KRaftVoters", 2: "LeaderChange:"}

_UPPER = re.compile(r"(?<!^)(?=[A-Z])")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    if head == "kraft":  # Kafka's KRaftVersion... fields, first letter lowered
        head = "kRaft"
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _value(field_type: Any, value: Any, version: int) -> Any:
    if value is None:
        return None
    if isinstance(field_type, list):
        return [struct_json(tuple(field_type), version, v) for v in value]
    if isinstance(field_type, tuple):
        return struct_json(field_type, version, value)
    if field_type == "[]uuid":
        return [uuid_to_str(v) for v in value]
    if isinstance(value, uuid.UUID):
        return uuid_to_str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, list):
        return list(value)
    return value


def _default(field: Field) -> Any:
    if field.default is not _UNSET:
        return field.default
    t = field.type
    if isinstance(t, list) or (isinstance(t, str) and t.startswith("[]")):
        return []
    return {"string": "", "bool": False, "uuid": uuid.UUID(int=0)}.get(str(t), 0)


def struct_json(fields: tuple[Field, ...], version: int, body: Struct) -> dict[str, Any]:
    """``body`` as Kafka's JSON converter for ``version`` writes it."""
    out: dict[str, Any] = {}
    for field in fields:
        if not field.versions[0] <= version <= field.versions[1] or field.tag == CLUSTER_ID_TAG:
            continue
        value = getattr(body, field.name)
        if field.tag is not None and value == _default(field):
            continue
        out[_camel(field.name)] = _value(field.type, value, version)
    return out


def metadata_json(value: BytesLike) -> dict[str, Any]:
    """A metadata record value as kafka-dump-log's cluster metadata decoder prints it;
    raises MetadataError if the value does not decode."""
    rs, version, body = frames.decode_metadata(value)
    return {"type": _UPPER.sub("_", rs.name).upper(), "version": version,
            "data": struct_json(rs.body.fields, version, body)}


def control_json(key: BytesLike | None, value: BytesLike | None) -> tuple[str, dict[str, Any]]:
    """(label, JSON) of a KRaft control record (``SnapshotHeader``, ``LeaderChange:``, ...);
    raises MetadataError for anything else."""
    record_type, body = frames.decode_control(key, value)
    label = CONTROL_LABELS.get(record_type)
    if label is None:
        raise MetadataError(f"control record type {record_type} is no KRaft record")
    return label, struct_json(CONTROL[record_type].fields, 0, body)
