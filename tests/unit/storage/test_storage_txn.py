"""A partition's transactions: last stable offset, aborted list, .txnindex and .snapshot files,
through appends, restarts (clean and not), truncation and retention."""

from __future__ import annotations

from pathlib import Path

from tidelog.records import NewRecord, build_batch
from tidelog.records.control import ABORT, COMMIT, Marker, build_marker_batch
from tidelog.storage import txn_files
from tidelog.storage.config import LogConfig
from tidelog.storage.log import PartitionLog
from tidelog.storage.txn_state import AbortedTxn, OpenTxn


def data(pid: int, n: int = 2, *, txn: bool = True) -> bytearray:
    return bytearray(build_batch(
        [NewRecord(b"v%d" % i) for i in range(n)], producer_id=pid if txn else -1,
        producer_epoch=0 if txn else -1, base_sequence=0 if txn else -1, is_transactional=txn,
    ))


def marker(pid: int, kind: int) -> bytearray:
    return bytearray(build_marker_batch(pid, 0, Marker(kind, 3)))


def open_log(path: Path, **cfg: object) -> PartitionLog:
    return PartitionLog.open(path / "t-0", LogConfig(**cfg))  # type: ignore[arg-type]


def test_lso_stops_at_the_first_open_transaction_and_aborts_are_indexed(tmp_path: Path) -> None:
    plog = open_log(tmp_path)
    plog.append(data(0, txn=False), leader_epoch=0)      # 0-1
    plog.append(data(7), leader_epoch=0)                 # 2-3 txn 7
    plog.append(data(8), leader_epoch=0)                 # 4-5 txn 8
    assert plog.last_stable_offset == 2
    plog.append(marker(7, ABORT), leader_epoch=0)        # 6 abort 7
    assert plog.last_stable_offset == 4  # 8 is still open
    assert plog.aborted_transactions(0, 7) == [AbortedTxn(7, 2, 6, 4)]
    plog.append(marker(8, COMMIT), leader_epoch=0)       # 7 commit 8
    assert plog.last_stable_offset == 8 == plog.log_end_offset
    assert plog.aborted_transactions(7, 8) == []  # the abort's marker is before the read
    assert plog.aborted_transactions(6, 8) == [AbortedTxn(7, 2, 6, 4)]
    index = tmp_path / "t-0" / txn_files.file_name(0, txn_files.TXN_INDEX_SUFFIX)
    assert txn_files.decode_index(index.read_bytes()) == [AbortedTxn(7, 2, 6, 4)]
    assert len(index.read_bytes()) == 34  # Kafka's entry size


def test_lso_waits_for_the_marker_to_pass_the_high_watermark(tmp_path: Path) -> None:
    plog = open_log(tmp_path)
    plog.append(data(7), leader_epoch=0)                 # 0-1
    plog.append(marker(7, ABORT), leader_epoch=0)        # 2
    plog.high_watermark = 2  # the marker is not replicated yet
    assert plog.last_stable_offset == 0
    plog.high_watermark = 3
    assert plog.last_stable_offset == 3


def test_restart_rebuilds_open_transactions_from_snapshot_or_scan(tmp_path: Path) -> None:
    plog = open_log(tmp_path)
    plog.append(data(7), leader_epoch=0)
    plog.append(data(8), leader_epoch=0)
    plog.append(marker(8, ABORT), leader_epoch=0)
    plog.close()  # clean: a snapshot at the log end
    snaps = txn_files.offsets_with(tmp_path / "t-0", txn_files.SNAPSHOT_SUFFIX)
    assert snaps == [5]
    again = open_log(tmp_path)
    assert again.open_transactions == [OpenTxn(7, 0, 0)]
    assert again.last_stable_offset == 0
    assert again.aborted_transactions(0, 5) == [AbortedTxn(8, 2, 4, 0)]
    again.close()
    # without the snapshot (a crash before any roll): the scan finds the same
    (tmp_path / "t-0" / txn_files.file_name(5, txn_files.SNAPSHOT_SUFFIX)).unlink()
    third = open_log(tmp_path)
    assert third.open_transactions == [OpenTxn(7, 0, 0)]
    assert third.aborted_transactions(0, 5) == [AbortedTxn(8, 2, 4, 0)]


def test_roll_snapshots_and_truncation_reopens_a_transaction(tmp_path: Path) -> None:
    plog = open_log(tmp_path, segment_bytes=200)
    plog.append(data(7), leader_epoch=0)                 # 0-1
    plog.append(data(0, txn=False), leader_epoch=0)
    plog.append(data(0, txn=False), leader_epoch=0)
    plog.append(marker(7, ABORT), leader_epoch=0)
    end = plog.log_end_offset - 1
    assert plog.segment_count > 1
    assert plog.aborted_transactions(0, end + 1) == [AbortedTxn(7, 0, end, end + 1)]
    plog.truncate_to(end)  # the marker goes: the transaction is open again
    assert plog.open_transactions == [OpenTxn(7, 0, 0)]
    assert plog.aborted_transactions(0, end) == []
    assert plog.last_stable_offset == 0
    assert txn_files.read_indexes(tmp_path / "t-0") == []


def test_a_snapshot_that_does_not_check_is_skipped(tmp_path: Path) -> None:
    d = tmp_path / "t-0"
    d.mkdir()
    (d / txn_files.file_name(0, txn_files.SNAPSHOT_SUFFIX)).write_bytes(b"\x00\x01junk")
    assert txn_files.latest_snapshot(d, 10) is None
    good = txn_files.encode_snapshot([OpenTxn(5, 2, 40)])
    assert txn_files.decode_snapshot(good) == [OpenTxn(5, 2, 40)]
    assert txn_files.decode_snapshot(good[:-1]) is None


def test_the_cleaner_stops_at_an_open_transaction(tmp_path: Path) -> None:
    plog = open_log(tmp_path)
    plog.append(data(0, txn=False), leader_epoch=0)  # 0-1
    plog.append(data(9), leader_epoch=0)             # 2-3, open
    plog.append(data(0, txn=False), leader_epoch=0)  # 4-5
    assert plog.cleaner_view().high_watermark == 2
    plog.append(marker(9, COMMIT), leader_epoch=0)
    assert plog.cleaner_view().high_watermark == plog.log_end_offset
