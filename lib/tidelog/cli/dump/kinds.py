"""Tell the type of a log-directory file from its name, as Kafka names them.

Names (the directory part is ignored):

=============================================  ==========================================
``<20 digits>.log`` (also ``.log.deleted``,    record batches of one segment; the digits are
``.log.cleaned``, ``.log.swap``)               its base offset
``<20 digits>.index`` / ``.timeindex``         offset index / time index of that segment
``*.checkpoint``                               record batches (KRaft snapshots
                                               ``<offset>-<epoch>.checkpoint``,
                                               ``bootstrap.checkpoint``)
``*offset-checkpoint``                         offset checkpoint (recovery point, log start,
                                               replication, cleaner)
``leader-epoch-checkpoint``                    leader epoch cache
``partition.metadata``                         topic id of a partition
``meta.properties``                            identity of a log directory
``quorum-state``                               KRaft quorum state (JSON)
``<20 digits>.snapshot``                       producer state snapshot (idempotent and
                                               transactional producers, binary)
``.lock``                                      a log directory's lock file
``<20 digits>.txnindex``                       aborted transactions of that segment
=============================================  ==========================================

Anything else is :attr:`FileKind.UNKNOWN`. Pure function, no I/O.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import NamedTuple


class FileKind(Enum):
    LOG = "log"
    SNAPSHOT = "snapshot"
    OFFSET_INDEX = "offset-index"
    TIME_INDEX = "time-index"
    OFFSET_CHECKPOINT = "offset-checkpoint"
    LEADER_EPOCH_CHECKPOINT = "leader-epoch-checkpoint"
    PARTITION_METADATA = "partition-metadata"
    META_PROPERTIES = "meta-properties"
    QUORUM_STATE = "quorum-state"
    PRODUCER_SNAPSHOT = "producer-snapshot"
    LOCK = "lock"
    TXN_INDEX = "txn-index"
    UNKNOWN = "unknown"


class Detected(NamedTuple):
    kind: FileKind
    #: The base offset in a segment or index name, the end offset of a KRaft snapshot name.
    base_offset: int | None = None
    #: The epoch in a KRaft snapshot name ``<offset>-<epoch>.checkpoint``.
    epoch: int | None = None


_SEGMENT = re.compile(r"^(\d{20})\.(log|index|timeindex)(?:\.(?:deleted|cleaned|swap))?$")
_SNAPSHOT = re.compile(r"^(\d{20})-(\d{10})\.checkpoint$")
_PRODUCER_SNAPSHOT = re.compile(r"^(\d{20})\.snapshot(?:\.deleted)?$")
_TXN_INDEX = re.compile(r"^(\d{20})\.txnindex$")
_SUFFIX_KINDS = {
    "log": FileKind.LOG,
    "index": FileKind.OFFSET_INDEX,
    "timeindex": FileKind.TIME_INDEX,
}
_EXACT = {
    "leader-epoch-checkpoint": FileKind.LEADER_EPOCH_CHECKPOINT,
    "partition.metadata": FileKind.PARTITION_METADATA,
    "meta.properties": FileKind.META_PROPERTIES,
    "quorum-state": FileKind.QUORUM_STATE,
    ".lock": FileKind.LOCK,
}


def detect(path: Path | str) -> Detected:
    """The kind of file ``path`` names."""
    name = Path(path).name
    match = _SEGMENT.match(name)
    if match:
        return Detected(_SUFFIX_KINDS[match.group(2)], int(match.group(1)))
    match = _TXN_INDEX.match(name)
    if match:
        return Detected(FileKind.TXN_INDEX, int(match.group(1)))
    match = _SNAPSHOT.match(name)
    if match:
        return Detected(FileKind.SNAPSHOT, int(match.group(1)), int(match.group(2)))
    match = _PRODUCER_SNAPSHOT.match(name)
    if match:
        return Detected(FileKind.PRODUCER_SNAPSHOT, int(match.group(1)))
    if name in _EXACT:
        return Detected(_EXACT[name])
    if name.endswith(".checkpoint"):
        return Detected(FileKind.SNAPSHOT)
    if name.endswith("offset-checkpoint"):
        return Detected(FileKind.OFFSET_CHECKPOINT)
    # Kafka's own dump tool accepts any *.log / *.index / *.timeindex name.
    for suffix, kind in (
        (".log", FileKind.LOG),
        (".index", FileKind.OFFSET_INDEX),
        (".timeindex", FileKind.TIME_INDEX),
    ):
        if name.endswith(suffix):
            return Detected(kind)
    return Detected(FileKind.UNKNOWN)
