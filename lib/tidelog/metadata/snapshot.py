"""Metadata snapshots as Kafka writes them: ``<end offset>-<epoch>.checkpoint`` files.

Format (Kafka's ``RecordsSnapshotWriter``): uncompressed v2 record batches with offsets from
0 and ``partitionLeaderEpoch`` = the snapshot's epoch: first a control batch holding one
SnapshotHeader (version 0, the timestamp of the last record it contains), then batches of
metadata records (at most :data:`RECORDS_PER_BATCH` each, Kafka's binary records, null keys),
then a control batch holding one SnapshotFooter. The records rebuild the image from nothing
(:func:`image_records`): the cluster id, features, brokers, topics each followed by their
partitions and configs, producer ids, SCRAM credentials, ACLs and client quotas. Pure
functions, no I/O.

Invariant: ``EMPTY_IMAGE.apply_all(image_records(image)) == image`` for every image a log
can build (tested); a snapshot therefore stands for the log prefix it replaces.

:func:`decode_checkpoint` checks the whole file (every batch's CRC, the header first and the
footer last, every record) and raises MetadataError naming what is wrong: a node must not
start from a snapshot it cannot read. Kafka's ``bootstrap.checkpoint`` has the same form.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from tidelog.metadata import frames
from tidelog.metadata.errors import MetadataError
from tidelog.metadata.image import EMPTY_IMAGE, MetadataDelta, MetadataImage
from tidelog.metadata.records import (
    ClientQuotaRecord,
    ClusterIdRecord,
    ConfigRecord,
    FeatureLevelRecord,
    MetadataRecord,
    PartitionRecord,
    ProducerIdsRecord,
    RegisterBrokerRecord,
    TopicRecord,
    decode_record,
    encode_record,
)
from tidelog.protocol.messages.kraft import SNAPSHOT_FOOTER, SNAPSHOT_HEADER
from tidelog.records.builder import build_batch
from tidelog.records.crc import BytesLike
from tidelog.records.errors import CorruptRecordError
from tidelog.records.reader import iter_decoded_batches
from tidelog.records.record import NewRecord

RECORDS_PER_BATCH = 1000
SUFFIX = ".checkpoint"


def checkpoint_name(end_offset: int, epoch: int) -> str:
    """Kafka's snapshot file name: ``%020d-%010d.checkpoint``."""
    return f"{end_offset:020d}-{epoch:010d}{SUFFIX}"


def image_records(image: MetadataImage) -> Iterator[MetadataRecord]:
    """Records that build ``image`` from the empty image, in an order replay accepts."""
    if image.cluster_id is not None:
        yield ClusterIdRecord(image.cluster_id)
    for name, level in sorted(image.features.items()):
        yield FeatureLevelRecord(name, level)
    for b in sorted(image.brokers.values(), key=lambda b: b.broker_id):
        yield RegisterBrokerRecord(b.broker_id, b.incarnation_id, b.broker_epoch, b.endpoints,
                                   b.rack, b.fenced)
    for name in sorted(image.topic_ids_by_name):
        topic = image.topics_by_id[image.topic_ids_by_name[name]]
        yield TopicRecord(name, topic.topic_id)
        for p in range(len(topic.partitions)):
            part = topic.partitions[p]
            yield PartitionRecord(topic.topic_id, p, part.replicas, part.isr, part.leader,
                                  part.leader_epoch, part.partition_epoch,
                                  part.removing_replicas, part.adding_replicas)
    for (rtype, rname), configs in sorted(image.configs.items()):
        for key, value in sorted(configs.items()):
            yield ConfigRecord(rtype, rname, key, value)
    if image.next_producer_id:
        # the image keeps only where the next block starts; the broker it went to is moot
        yield ProducerIdsRecord(0, image.next_producer_id)
    for _, cred in sorted(image.scram_credentials.items()):
        yield cred
    for _, acl in sorted(image.acls.items()):
        yield acl
    for entity, values in sorted(image.client_quotas.items(), key=lambda e: repr(e[0])):
        for key, quota in sorted(values.items()):
            yield ClientQuotaRecord(entity, key, quota)


def encode_checkpoint(records: Sequence[MetadataRecord] | Iterator[MetadataRecord], *,
                      epoch: int, last_timestamp: int, timestamp_ms: int) -> bytes:
    """The bytes of a ``.checkpoint`` file holding ``records`` (see the module docstring)."""
    parts: list[bytes] = []
    offset = 0

    def control(kind: int, body: dict[str, int]) -> None:
        nonlocal offset
        key, value = frames.encode_control(kind, body)
        parts.append(build_batch([NewRecord(value, key, (), timestamp_ms)], base_offset=offset,
                                 partition_leader_epoch=epoch, is_control=True))
        offset += 1

    control(SNAPSHOT_HEADER, {"version": 0, "last_contained_log_timestamp": last_timestamp})
    chunk: list[NewRecord] = []

    def flush() -> None:
        nonlocal offset
        if chunk:
            parts.append(build_batch(chunk, base_offset=offset, partition_leader_epoch=epoch))
            offset += len(chunk)
            chunk.clear()

    for record in records:
        chunk.append(NewRecord(encode_record(record), None, (), timestamp_ms))
        if len(chunk) >= RECORDS_PER_BATCH:
            flush()
    flush()
    control(SNAPSHOT_FOOTER, {"version": 0})
    return b"".join(parts)


def decode_checkpoint(data: BytesLike) -> list[MetadataRecord]:
    """The metadata records of a ``.checkpoint`` file (header and footer checked)."""
    records: list[MetadataRecord] = []
    controls: list[int] = []
    try:
        for batch in iter_decoded_batches(data):
            for r in batch.records():
                if batch.header.is_control:
                    kind, _ = frames.decode_control(r.key, r.value)
                    if not controls and kind != SNAPSHOT_HEADER:
                        raise MetadataError("the first record is not a SnapshotHeader")
                    controls.append(kind)
                    continue
                if not controls:
                    raise MetadataError("metadata records before the SnapshotHeader")
                if controls[-1] == SNAPSHOT_FOOTER:
                    raise MetadataError("metadata records after the SnapshotFooter")
                if r.value is None:
                    raise MetadataError(f"record {r.offset} is null")
                try:
                    records.append(decode_record(r.value))
                except MetadataError as exc:
                    raise MetadataError(f"record {r.offset}: {exc}") from None
    except CorruptRecordError as exc:
        raise MetadataError(f"unreadable snapshot batch: {exc}") from None
    if not controls or controls[-1] != SNAPSHOT_FOOTER:
        raise MetadataError("the snapshot does not end with a SnapshotFooter (cut short?)")
    return records


def load_image(data: BytesLike) -> MetadataImage:
    """The image a ``.checkpoint`` file's records build."""
    delta = MetadataDelta(EMPTY_IMAGE)
    for record in decode_checkpoint(data):
        delta.replay(record)
    return delta.apply()
