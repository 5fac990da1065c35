"""Idempotent producer state of one partition: per producer id, its epoch and recent batches.

Model (Kafka's, simplified to what a single leader needs): for each producer id the partition
remembers the producer epoch and the last :data:`CACHED_BATCHES` batches it appended (first and
last sequence, first and last offset). A new batch from a known producer must either repeat one
of those batches exactly (a retry: answered with the original offsets, not appended again) or
start right after the last sequence (``last + 1``, wrapping at 2**31). A higher epoch must start
at sequence 0. A producer the partition does not know is accepted at any sequence, as Kafka does
after its state expired. The table lives in memory; after a restart the broker rebuilds it from
the batch headers of the log's tail (``BrokerCore.producer_state``).

Only batch headers are read (producer id, epoch, base sequence, record count): no per-record
work. Pure: no I/O. The caller checks a request's batches with :meth:`check`, appends them, then
records the outcome with :meth:`record`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from tidelog.protocol.errors import ErrorCode
from tidelog.records.batch_header import NO_PRODUCER_ID, BatchHeader

CACHED_BATCHES = 5  # Kafka keeps the last five, matching max.in.flight for idempotence
_SEQ_MODULO = 1 << 31


class CachedBatch(NamedTuple):
    first_seq: int
    last_seq: int
    first_offset: int
    last_offset: int
    log_append_time: int


@dataclass
class ProducerEntry:
    epoch: int
    batches: deque[CachedBatch] = field(default_factory=lambda: deque(maxlen=CACHED_BATCHES))

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else -1


class Verdict(NamedTuple):
    """What to do with a partition's batches: append (error NONE, duplicate None), answer a
    duplicate with its original offsets, or refuse with ``error``."""

    error: ErrorCode
    duplicate: CachedBatch | None = None
    message: str | None = None


APPEND = Verdict(ErrorCode.NONE)


class ProducerStateTable:
    """The idempotence state of one partition."""

    def __init__(self) -> None:
        self._producers: dict[int, ProducerEntry] = {}

    def __len__(self) -> int:
        return len(self._producers)

    def entry(self, producer_id: int) -> ProducerEntry | None:
        return self._producers.get(producer_id)

    def check(self, headers: Sequence[BatchHeader]) -> Verdict:
        """Judge the batches of one produce request for this partition (in order)."""
        idempotent = [h for h in headers if h.producer_id != NO_PRODUCER_ID]
        if not idempotent:
            return APPEND
        if len(idempotent) != len(headers) or len({h.producer_id for h in idempotent}) != 1:
            return Verdict(
                ErrorCode.INVALID_RECORD, message="batches of several producers in one request"
            )
        first = idempotent[0]
        entry = self._producers.get(first.producer_id)
        if entry is not None and len(idempotent) == 1:
            for cached in entry.batches:
                if (
                    first.producer_epoch == entry.epoch
                    and cached.first_seq == first.base_sequence
                    and cached.last_seq == first.last_sequence
                ):
                    return Verdict(ErrorCode.NONE, duplicate=cached)
        epoch = entry.epoch if entry is not None else None
        last = entry.last_seq if entry is not None else None
        for h in idempotent:
            if epoch is not None and h.producer_epoch < epoch:
                return Verdict(
                    ErrorCode.INVALID_PRODUCER_EPOCH,
                    message=f"producer epoch {h.producer_epoch} is older than {epoch}",
                )
            if epoch is not None and h.producer_epoch > epoch:
                if h.base_sequence != 0:
                    return Verdict(
                        ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
                        message=f"new epoch {h.producer_epoch} must start at sequence 0, "
                        f"not {h.base_sequence}",
                    )
            elif last is not None and h.base_sequence != (last + 1) % _SEQ_MODULO:
                return Verdict(
                    ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
                    message=f"expected sequence {(last + 1) % _SEQ_MODULO}, "
                    f"got {h.base_sequence}",
                )
            epoch, last = h.producer_epoch, h.last_sequence
        return APPEND

    def record(self, headers: Sequence[BatchHeader], log_append_time: int) -> None:
        """Remember appended batches (headers carry their assigned offsets)."""
        for h in headers:
            if h.producer_id == NO_PRODUCER_ID:
                continue
            if h.is_control:
                # A transaction marker carries no sequence: the producer goes on after its
                # last data batch. A marker of a newer epoch (the coordinator fenced the
                # producer) makes older epochs stale here too.
                known = self._producers.get(h.producer_id)
                if known is None or h.producer_epoch > known.epoch:
                    self._producers[h.producer_id] = ProducerEntry(h.producer_epoch)
                continue
            entry = self._producers.get(h.producer_id)
            if entry is None or h.producer_epoch != entry.epoch:
                entry = ProducerEntry(h.producer_epoch)
                self._producers[h.producer_id] = entry
            entry.batches.append(
                CachedBatch(
                    h.base_sequence, h.last_sequence, h.base_offset, h.last_offset,
                    log_append_time,
                )
            )
