"""The local metadata log: metadata records in ``<data-dir>/__cluster_metadata-0``.

Format: an ordinary partition log (Kafka's segment layout, via
:class:`~tidelog.storage.log.PartitionLog`). Each :meth:`MetadataLog.append` writes exactly one
uncompressed record batch; each record's value is one metadata record in Kafka's binary
format (:func:`~tidelog.metadata.records.encode_record`), its key is null. Control batches (which a
Raft leader writes) are skipped on replay.

This is the one-voter stand-in for the Raft quorum of a later issue: the same records, the
same batches, written by the only node.

Invariants and crash behaviour:

* A batch commits atomically: a topic and its partitions are in one batch, so they exist
  together or not at all. The log is opened with full recovery, which validates every batch
  and cuts a torn or corrupt tail (a crash mid-write), so a half-written batch disappears whole.
* ``append`` checks the records against the current image *before* writing, so the log only
  ever holds records that replay cleanly; it fdatasyncs before returning (the caller may
  acknowledge the change to a client as soon as it returns).
* The metadata log is never trimmed by retention (retention.ms = retention.bytes = -1).
* A batch whose records do not decode, or do not fit the image, makes :meth:`replay` raise
  MetadataError naming the offset: a broker must not start on metadata it cannot read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tidelog.metadata.errors import MetadataError
from tidelog.metadata.image import EMPTY_IMAGE, MetadataDelta, MetadataImage
from tidelog.metadata.records import MetadataRecord, decode_record, encode_record
from tidelog.records.builder import build_batch
from tidelog.records.errors import CorruptRecordError
from tidelog.records.reader import iter_decoded_batches
from tidelog.records.record import NewRecord
from tidelog.storage.config import LogConfig
from tidelog.storage.log import PartitionLog, RecoveryReport

METADATA_LOG_DIR = "__cluster_metadata-0"
#: How much of the log one replay read takes (whole batches; at least one).
REPLAY_CHUNK_BYTES = 1 << 20
#: Large enough for a topic with the maximum number of partitions in one batch.
MAX_BATCH_BYTES = 64 << 20

METADATA_LOG_CONFIG = LogConfig(
    segment_bytes=MAX_BATCH_BYTES,
    segment_ms=(1 << 63) - 1,
    retention_ms=-1,
    retention_bytes=-1,
    max_message_bytes=MAX_BATCH_BYTES,
)


class MetadataLog:
    """Append metadata record batches and replay them into a :class:`MetadataImage`."""

    def __init__(self, plog: PartitionLog, *, leader_epoch: int = 0) -> None:
        self._plog = plog
        self._image: MetadataImage | None = None
        self.leader_epoch = leader_epoch

    @classmethod
    def open(cls, data_dir: str | Path, *, leader_epoch: int = 0) -> MetadataLog:
        """Open (creating if needed) the metadata log under ``data_dir``, recovering it fully.

        ``leader_epoch`` is stamped on appended batches (0 for the single-node stand-in).
        """
        plog = PartitionLog.open(
            Path(data_dir) / METADATA_LOG_DIR,
            METADATA_LOG_CONFIG,
            recovery_point=0,
            clean_shutdown=False,
        )
        return cls(plog, leader_epoch=leader_epoch)

    @property
    def path(self) -> Path:
        return self._plog.dir

    @property
    def next_offset(self) -> int:
        """The offset the next appended record will get (the log end offset)."""
        return self._plog.log_end_offset

    @property
    def image(self) -> MetadataImage:
        """The image after every record in the log (replaying first if not yet done)."""
        if self._image is None:
            self._image = self.replay()
        return self._image

    @property
    def recovery_report(self) -> RecoveryReport:
        """What storage recovery did when the log was opened (bytes cut from a torn tail)."""
        return self._plog.recovery_report

    def replay(self) -> MetadataImage:
        """Read every batch from the start of the log and build the image they describe."""
        plog = self._plog
        delta = MetadataDelta(EMPTY_IMAGE)
        offset = plog.log_start_offset
        end = plog.log_end_offset
        while offset < end:
            with plog.read(offset, REPLAY_CHUNK_BYTES) as region:
                data = region.read_bytes()
            if not data:
                break
            try:
                for batch in iter_decoded_batches(data):
                    offset = batch.header.next_offset
                    if batch.header.is_control:
                        continue
                    for record in batch.records():
                        if record.value is None:
                            raise MetadataError(
                                f"{self.path}: metadata record at offset {record.offset} is null"
                            )
                        try:
                            delta.replay(decode_record(record.value))
                        except MetadataError as exc:
                            raise MetadataError(
                                f"{self.path}: metadata record at offset {record.offset}: {exc}"
                            ) from None
            except CorruptRecordError as exc:
                raise MetadataError(f"{self.path}: unreadable metadata batch: {exc}") from None
        self._image = delta.apply()
        return self._image

    def append(self, records: Sequence[MetadataRecord]) -> int:
        """Write ``records`` as one batch, fdatasync it, and return the last offset.

        The records are checked against the current image first; if they do not fit, nothing
        is written and MetadataError is raised. The image then includes them.
        """
        if not records:
            raise MetadataError("an append needs at least one metadata record")
        image = self.image.apply_all(records)  # raises before anything is written
        batch = bytearray(
            build_batch(
                [NewRecord(encode_record(record)) for record in records],
                partition_leader_epoch=self.leader_epoch,
            )
        )
        info = self._plog.append(batch, leader_epoch=self.leader_epoch)
        self._plog.flush()
        self._image = image
        return info.last_offset

    def close(self) -> None:
        """Flush and close the underlying log."""
        self._plog.close()

    def __enter__(self) -> MetadataLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
