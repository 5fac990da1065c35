"""Raft storage on disk: the log in ``__cluster_metadata-0``, the hard state in ``quorum-state``.

Format:

* The Raft log is the ordinary partition log ``<data-dir>/__cluster_metadata-0`` (Kafka's
  segment layout). Each proposal is one record batch written as
  :func:`tidelog.raft.batches.encode_entries` builds it (base offset = the entry's offset,
  partitionLeaderEpoch = its epoch; control entries as control batches), appended with the
  offsets it already has. :class:`~tidelog.metadata.log.MetadataLog` reads the same batches.
* ``quorum-state`` in that directory holds the hard state in Kafka's JSON format (see
  :mod:`tidelog.broker.quorum.quorum_state`; one written by an earlier tidelog is read and
  rewritten in Kafka's format by the first sync). A missing file is the initial hard state
  (epoch 0, no vote, high watermark 0), which is how a data dir written by the one-voter
  stand-in of earlier versions is taken over.
* Snapshots (KIP-630 naming): ``<end offset:020>-<last epoch:010>.checkpoint`` with the
  snapshot's bytes. The latest one is loaded; the log then starts at its end offset.

Invariants and crash behaviour: :meth:`DiskRaftStorage.sync` fdatasyncs the log first and
then replaces ``quorum-state`` atomically (temp file, fsync, rename, fsync of the directory),
so a crash never leaves a hard state whose vote or epoch is ahead of what it was when
messages depending on it were sent; the high watermark it holds may be ahead of the log that
survived (a torn tail cut by recovery), which RaftNode clamps on load. A torn or corrupt log
tail is cut by the partition log's full recovery on open. An unreadable ``quorum-state`` or
snapshot raises MetadataError naming the file: a node must not vote twice by forgetting.

A ``quorum-state`` write that fails (ENOSPC) raises when the epoch or vote changed (they must
be durable before anything depends on them); when only the high watermark moved, the log's
fdatasync already made the Ready's entries durable and the high watermark is only a hint
(never trusted beyond the log; a lower one just re-commits on load), so the write is kept
pending and retried by every later :meth:`sync` until it succeeds, with one warning.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

from tidelog.broker.quorum.convert import convert_if_needed
from tidelog.broker.quorum.quorum_state import (
    QUORUM_STATE_FILE,
    encode_hard_state,
    read_hard_state,
)
from tidelog.metadata.errors import MetadataError
from tidelog.metadata.log import METADATA_LOG_CONFIG, METADATA_LOG_DIR
from tidelog.raft.batches import decode_entries, encode_entries
from tidelog.raft.errors import RaftError
from tidelog.raft.types import EMPTY_SNAPSHOT, Entry, HardState, PersistentState, Snapshot

__all__ = ["QUORUM_STATE_FILE", "DiskRaftStorage", "read_hard_state"]
from tidelog.records.errors import CorruptRecordError
from tidelog.storage.log import PartitionLog

log = logging.getLogger("tidelog.quorum")

SNAPSHOT_SUFFIX = ".checkpoint"
#: How much of the log one read takes when the log is loaded (whole batches, at least one).
READ_CHUNK_BYTES = 1 << 20


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a full disk gets back the pages the attempt took
        raise
    _fsync_dir(path.parent)


class DiskRaftStorage:
    """:class:`tidelog.raft.RaftStorage` over ``<data-dir>/__cluster_metadata-0``."""

    def __init__(self, data_dir: str | Path, voters: Sequence[int] = ()) -> None:
        #: written into ``quorum-state`` (Kafka's currentVoters)
        self.voters = tuple(voters)
        self.dir = Path(data_dir) / METADATA_LOG_DIR
        convert_if_needed(data_dir)  # an earlier tidelog's JSON log becomes Kafka's
        self._plog = PartitionLog.open(
            self.dir, METADATA_LOG_CONFIG, recovery_point=0, clean_shutdown=False
        )
        self._state_path = self.dir / QUORUM_STATE_FILE
        self._pending_hard: HardState | None = None
        #: the hard state ``quorum-state`` holds (what a restart would read)
        self._durable_hard = HardState()
        self._hard_write_failing = False

    @property
    def log_end_offset(self) -> int:
        return self._plog.log_end_offset

    def _snapshots(self) -> list[Path]:
        return sorted(self.dir.glob("*" + SNAPSHOT_SUFFIX))

    def _latest_snapshot(self) -> Snapshot:
        paths = self._snapshots()
        if not paths:
            return EMPTY_SNAPSHOT
        path = paths[-1]
        try:
            offset, epoch = path.name[: -len(SNAPSHOT_SUFFIX)].split("-")
            return Snapshot(int(offset), int(epoch), path.read_bytes())
        except (ValueError, OSError) as exc:
            raise MetadataError(f"{path}: unreadable snapshot: {exc}") from None

    def load(self) -> PersistentState:
        snapshot = self._latest_snapshot()
        start = max(snapshot.end_offset, self._plog.log_start_offset)
        if snapshot.end_offset > self._plog.log_end_offset or (
            snapshot.end_offset < self._plog.log_start_offset
        ):
            # the log does not continue the snapshot (a crash while one was installed)
            self._plog.truncate_fully_and_start_at(snapshot.end_offset)
            start = snapshot.end_offset
        entries = self.read(start, self._plog.log_end_offset)
        self._durable_hard, old_format = read_hard_state(self._state_path)
        if old_format:  # an earlier tidelog's JSON: the next sync writes Kafka's format
            self._pending_hard = self._durable_hard
        return PersistentState(self._durable_hard, snapshot, tuple(entries))

    def save_snapshot(self, snapshot: Snapshot) -> None:
        name = f"{snapshot.end_offset:020d}-{snapshot.last_epoch:010d}{SNAPSHOT_SUFFIX}"
        _write_atomically(self.dir / name, snapshot.data)
        plog = self._plog
        if plog.log_start_offset <= snapshot.end_offset <= plog.log_end_offset:
            plog.advance_log_start_offset(snapshot.end_offset)
        else:
            plog.truncate_fully_and_start_at(snapshot.end_offset)
        for old in self._snapshots():
            if old.name != name:
                old.unlink(missing_ok=True)

    def truncate(self, end_offset: int) -> None:
        self._plog.truncate_to(end_offset)

    def append(self, entries: Sequence[Entry]) -> None:
        now = int(time.time() * 1000)
        for batch in encode_entries(entries, timestamp_ms=now):
            epoch = int.from_bytes(batch[12:16], "big", signed=True)
            self._plog.append(bytearray(batch), leader_epoch=epoch, assign_offsets=False)

    def read(self, start: int, end: int) -> Sequence[Entry]:
        plog = self._plog
        start = max(start, plog.log_start_offset)
        end = min(end, plog.log_end_offset)
        out: list[Entry] = []
        offset = start
        while offset < end:
            with plog.read(offset, READ_CHUNK_BYTES) as region:
                data = region.read_bytes()
            if not data:
                break
            try:
                entries = decode_entries(data)
            except (CorruptRecordError, RaftError) as exc:
                raise MetadataError(f"{self.dir}: unreadable raft log batch: {exc}") from None
            out.extend(e for e in entries if start <= e.offset < end)
            offset = entries[-1].offset + 1
        return out

    def save_hard_state(self, state: HardState) -> None:
        # written in sync(), after the log: see the module docstring
        self._pending_hard = state

    def sync(self) -> None:
        """fdatasync the log, then write the pending hard state (see the module docstring:
        a failed hard-state write is kept pending and retried by the next sync)."""
        self._plog.flush()
        state = self._pending_hard
        if state is None:
            return
        try:
            _write_atomically(self._state_path, encode_hard_state(state, self.voters))
        except OSError as exc:
            durable = self._durable_hard
            if (state.epoch, state.voted_for) != (durable.epoch, durable.voted_for):
                raise  # a vote or epoch not on disk must not be acted on
            # Only the high watermark moved: it is a hint (a lower one is what a restart
            # without the file reads too), so what this Ready wrote stands.
            if not self._hard_write_failing:
                log.warning("%s: cannot write the high watermark (%s); retried with the next "
                            "metadata change", self._state_path, exc)
            self._hard_write_failing = True
            return
        self._pending_hard = None
        self._durable_hard = state
        if self._hard_write_failing:
            log.info("%s written again", self._state_path)
            self._hard_write_failing = False

    def close(self) -> None:
        if self._pending_hard is not None:
            self.sync()
        self._plog.close()
