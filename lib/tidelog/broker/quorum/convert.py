"""Converting a metadata log written by an earlier tidelog (JSON records) to Kafka's format.

Before Kafka's binary metadata records, tidelog stored each metadata record as one JSON
object, each leader's control record as a JSON marker (``{"leader":1,"voters":[1]}``) and the
hard state as ``{"epoch","voted_for","high_watermark"}``. A log is in that format when the
first record of its first batch starts with ``{`` (a Kafka metadata record starts with its
frame version, 1; a Kafka control value with its int16 version, 0): the two cannot be mistaken
for each other, so an old log is never silently misread.

:func:`convert_if_needed` runs when the metadata log is opened (first start after the
upgrade). It rewrites ``<data-dir>/__cluster_metadata-0`` batch by batch, keeping every
offset, leader epoch and timestamp (so Raft positions and the image stay exactly as they
were); each record value is re-encoded (:func:`~tidelog.metadata.records.decode_json_record`
then :func:`~tidelog.metadata.records.encode_record`), each marker becomes Kafka's
LeaderChange. ``quorum-state`` is converted by the storage itself (see
:mod:`tidelog.broker.quorum.quorum_state`).

Crash behaviour: the new log is written to ``__cluster_metadata-0.converting`` and flushed;
then the old directory is renamed to ``__cluster_metadata-0.json-<hex>-stray`` (kept for the
operator, ignored by the log manager like every ``-stray`` dir; delete it once the node runs)
and the new one takes its name, and the data dir is fsynced. A crash before the first rename
leaves the old log in place (the half-written copy is removed and the conversion redone); a
crash between the renames leaves only the converted copy, which the next start moves into
place. A record that does not convert raises MetadataError naming its offset, and nothing is
changed.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

import orjson

from tidelog.metadata.errors import MetadataError
from tidelog.metadata.frames import leader_change_value
from tidelog.metadata.log import METADATA_LOG_CONFIG, METADATA_LOG_DIR
from tidelog.metadata.records import decode_json_record, encode_record
from tidelog.records.builder import build_batch
from tidelog.records.errors import CorruptRecordError
from tidelog.records.reader import iter_decoded_batches
from tidelog.records.record import NewRecord
from tidelog.storage.checkpoint import fsync_dir
from tidelog.storage.log import PartitionLog

log = logging.getLogger("tidelog.quorum")

CONVERTING_SUFFIX = ".converting"
READ_CHUNK_BYTES = 1 << 20


def _first_byte(live: Path) -> bytes | None:
    """The first byte of the first record of the log's first batch (None: no record), read
    straight from the first segment so that the check costs one small read per start."""
    segments = sorted(live.glob("*.log"))
    if not segments:
        return None
    with open(segments[0], "rb") as fh:
        head = fh.read(12)
        if len(head) < 12:
            return None
        size = int.from_bytes(head[8:12], "big")
        data = head + fh.read(min(size, 1 << 26))
    try:
        for batch in iter_decoded_batches(data):
            for record in batch.records():
                return None if record.value is None else bytes(record.value[:1])
    except CorruptRecordError:
        return None  # a torn first batch: recovery deals with it, nothing to convert
    return None


def _marker(value: bytes, offset: int) -> bytes:
    try:
        obj = orjson.loads(value)
        return leader_change_value(int(obj["leader"]), [int(v) for v in obj.get("voters", [])])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise MetadataError(f"control record at offset {offset} is no leader marker: "
                            f"{exc}") from None


def _convert_log(old: PartitionLog, target: Path) -> int:
    new = PartitionLog.open(target, METADATA_LOG_CONFIG, recovery_point=0, clean_shutdown=False)
    batches = 0
    try:
        offset = old.log_start_offset
        if offset:
            new.truncate_fully_and_start_at(offset)
        while offset < old.log_end_offset:
            with old.read(offset, READ_CHUNK_BYTES) as region:
                data = region.read_bytes()
            if not data:
                break
            for batch in iter_decoded_batches(data):
                h = batch.header
                records = []
                for r in batch.records():
                    if r.value is None:
                        raise MetadataError(f"metadata record at offset {r.offset} is null")
                    try:
                        value = (_marker(bytes(r.value), r.offset) if h.is_control
                                 else encode_record(decode_json_record(r.value)))
                    except MetadataError as exc:
                        raise MetadataError(f"offset {r.offset}: {exc}") from None
                    key = None if r.key is None else bytes(r.key)
                    records.append(NewRecord(value, key, (), r.timestamp))
                built = build_batch(records, base_offset=h.base_offset,
                                    partition_leader_epoch=h.partition_leader_epoch,
                                    is_control=h.is_control)
                new.append(bytearray(built), leader_epoch=h.partition_leader_epoch,
                           assign_offsets=False)
                batches += 1
                offset = h.next_offset
        new.flush()
    finally:
        new.close()
    return batches


def convert_if_needed(data_dir: str | Path) -> bool:
    """Convert ``<data_dir>/__cluster_metadata-0`` to Kafka's format if an earlier tidelog
    wrote it (see the module docstring); return whether it did."""
    data = Path(data_dir)
    live = data / METADATA_LOG_DIR
    pending = data / (METADATA_LOG_DIR + CONVERTING_SUFFIX)
    if pending.exists():
        if live.exists():  # a conversion cut short before it replaced anything
            shutil.rmtree(pending)
        else:  # cut short between the renames: the converted copy is complete
            os.rename(pending, live)
            fsync_dir(data)
            log.warning("%s: finished the conversion to Kafka's format begun before", live)
            return True
    if not live.is_dir() or _first_byte(live) != b"{":
        return False
    old = PartitionLog.open(live, METADATA_LOG_CONFIG, recovery_point=0, clean_shutdown=False)
    try:
        try:
            if any(live.glob("*.checkpoint")):
                raise MetadataError("it holds snapshots, which no earlier tidelog wrote")
            batches = _convert_log(old, pending)
        except CorruptRecordError as exc:
            raise MetadataError(f"unreadable metadata batch: {exc}") from None
    except MetadataError as exc:
        shutil.rmtree(pending, ignore_errors=True)
        raise MetadataError(
            f"{live}: cannot convert the metadata log of an earlier tidelog to Kafka's "
            f"format: {exc}") from None
    finally:
        old.close()
    for name in ("quorum-state", "partition.metadata"):
        if (live / name).exists():
            shutil.copy2(live / name, pending / name)
            with open(pending / name, "rb") as fh:
                os.fsync(fh.fileno())
    fsync_dir(pending)
    backup = data / f"{METADATA_LOG_DIR}.json-{uuid.uuid4().hex[:8]}-stray"
    os.rename(live, backup)
    os.rename(pending, live)
    fsync_dir(data)
    log.warning("%s: converted %d batches of an earlier tidelog's metadata log to Kafka's "
                "format; the old log is kept in %s (delete it once the node runs)",
                live, batches, backup)
    return True
