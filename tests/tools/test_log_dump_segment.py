"""log-dump-segment as a program: exact output on Kafka's files, every file type, JSON,
corruption, index verification, exit codes, closed stdout, Ctrl-C and lazy imports."""

from __future__ import annotations

import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from tidelog.records.batch_header import Compression
from tidelog.records.builder import build_batch
from tidelog.records.record import NewRecord

# In-process runs by default (fast); the tests that need a real process say so, and the closed
# pipe, Ctrl-C and start-up tests below use their own subprocesses.
pytestmark = pytest.mark.script_launch_mode("inprocess")
SUBPROCESS = pytest.mark.script_launch_mode("subprocess")

PROG = "log-dump-segment"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kafka-logdir"
TOPIC_LOG = FIXTURES / "TestTopicPatient-0" / "00000000000000000000.log"
METADATA_LOG = FIXTURES / "__cluster_metadata-0" / "00000000000000000000.log"
SEGMENT = "00000000000000000000"

# Computed by hand from the bytes of TOPIC_LOG (three idempotent producers, one record each):
# batch lengths 1889, 964, 382 (+12 = sizes), positions are the running sums of the sizes,
# CRCs are the stored header fields.
EXPECTED_TOPIC_DUMP = """\
Dumping {path}
Log starting offset: 0
baseOffset: 0 lastOffset: 0 count: 1 baseSequence: 0 lastSequence: 0 producerId: 1 producerEpoch: 0 partitionLeaderEpoch: 0 isTransactional: false isControl: false deleteHorizonMs: OptionalLong.empty position: 0 CreateTime: 1769792698283 size: 1901 magic: 2 compresscodec: none crc: 3321075021 isvalid: true
baseOffset: 1 lastOffset: 1 count: 1 baseSequence: 0 lastSequence: 0 producerId: 2 producerEpoch: 0 partitionLeaderEpoch: 0 isTransactional: false isControl: false deleteHorizonMs: OptionalLong.empty position: 1901 CreateTime: 1769793423115 size: 976 magic: 2 compresscodec: none crc: 2459829793 isvalid: true
baseOffset: 2 lastOffset: 2 count: 1 baseSequence: 0 lastSequence: 0 producerId: 3 producerEpoch: 0 partitionLeaderEpoch: 0 isTransactional: false isControl: false deleteHorizonMs: OptionalLong.empty position: 2877 CreateTime: 1769793578165 size: 394 magic: 2 compresscodec: none crc: 3160044214 isvalid: true
"""  # noqa: E501


def _copy_topic(tmp_path: Path) -> Path:
    path = tmp_path / f"{SEGMENT}.log"
    shutil.copy(TOPIC_LOG, path)
    path.chmod(0o644)
    return path


@SUBPROCESS
def test_kafka_topic_log_exact(script_runner) -> None:  # type: ignore[no-untyped-def]
    result = script_runner.run([PROG, str(TOPIC_LOG)])
    assert result.returncode == 0, result.stderr
    assert result.stdout == EXPECTED_TOPIC_DUMP.format(path=TOPIC_LOG)
    assert result.stderr == ""


def test_every_file_type_in_one_run(script_runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = _copy_topic(tmp_path)
    (tmp_path / f"{SEGMENT}.index").write_bytes(struct.pack(">ii", 1, 1901) + bytes(8 * 4))
    (tmp_path / f"{SEGMENT}.timeindex").write_bytes(struct.pack(">qi", 1769793423115, 1))
    files = [
        log,
        tmp_path / f"{SEGMENT}.index",
        tmp_path / f"{SEGMENT}.timeindex",
        METADATA_LOG,
        FIXTURES / "bootstrap.checkpoint",
        FIXTURES / "recovery-point-offset-checkpoint",
        FIXTURES / "replication-offset-checkpoint",
        FIXTURES / "log-start-offset-checkpoint",
        FIXTURES / "TestTopicPatient-0" / "leader-epoch-checkpoint",
        FIXTURES / "TestTopicPatient-0" / "partition.metadata",
        FIXTURES / "meta.properties",
        FIXTURES / "__cluster_metadata-0" / "quorum-state",
    ]
    result = script_runner.run([PROG, "--verify-index", *map(str, files)])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("Dumping ")] == [
        f"Dumping {f}" for f in files
    ]
    for expected in (
        "offset: 1 position: 1901",
        "timestamp: 1769793423115 offset: 1",
        "topic: TestTopicPatient partition: 0 offset: 3",
        "epoch: 0 startOffset: 0",
        "version: 0 topicId: B3_HiNPgSQ6oxG9ZZ6ED5A",
        "node.id=1",
        '  "clusterId": "",',
    ):
        assert expected in lines
    assert sum(line.startswith("baseOffset: ") for line in lines) == 3 + 4814 + 3
    assert "Index mismatch" not in result.stdout


def test_json_lines(script_runner) -> None:  # type: ignore[no-untyped-def]
    result = script_runner.run([PROG, "--json", "--print-data", str(TOPIC_LOG)])
    assert result.returncode == 0, result.stderr
    docs = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert docs[0] == {
        "type": "file",
        "file": str(TOPIC_LOG),
        "kind": "log",
        "baseOffset": 0,
        "size": 3271,
    }
    batches = docs[1:]
    assert [b["crc"] for b in batches] == [3321075021, 2459829793, 3160044214]
    assert [b["size"] for b in batches] == [1901, 976, 394]
    assert [b["position"] for b in batches] == [0, 1901, 2877]
    assert [b["producerId"] for b in batches] == [1, 2, 3]
    for batch in batches:
        (record,) = batch["records"]
        assert record["payloadEncoding"] == "utf-8"
        assert record["payload"].startswith('{\r\n  "resourceType"')
        assert record["key"] is None and record["keySize"] == -1


def test_print_data_with_keys_and_compression(script_runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / f"{SEGMENT}.log"
    path.write_bytes(
        build_batch([NewRecord(b"plain", key=b"k", timestamp=5)])
        + build_batch(
            [NewRecord(b"zipped", key=b"z", timestamp=6), NewRecord(b"again", timestamp=7)],
            base_offset=1,
            compression=Compression.ZSTD,
        )
    )
    shallow = script_runner.run([PROG, "--print-data", str(path)])
    assert shallow.returncode == 0
    lines = shallow.stdout.splitlines()
    assert lines[3] == (
        "| offset: 0 CreateTime: 5 keySize: 1 valueSize: 5 sequence: -1 headerKeys: [] "
        "key: k payload: plain"
    )
    assert " compresscodec: zstd " in lines[4] and len(lines) == 5
    assert "--deep-iteration" in shallow.stderr
    deep = script_runner.run([PROG, "-d", "--deep-iteration", "-q", str(path)])
    assert deep.returncode == 0 and deep.stderr == ""
    assert deep.stdout.splitlines()[5:] == [
        "| offset: 1 CreateTime: 6 keySize: 1 valueSize: 6 sequence: -1 headerKeys: [] "
        "key: z payload: zipped",
        "| offset: 2 CreateTime: 7 keySize: -1 valueSize: 5 sequence: -1 headerKeys: [] "
        "payload: again",
    ]


def test_truncated_copy(script_runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / f"{SEGMENT}.log"
    path.write_bytes(TOPIC_LOG.read_bytes()[:3000])
    result = script_runner.run([PROG, str(path)])
    assert result.returncode == 3
    expected = EXPECTED_TOPIC_DUMP.format(path=path).splitlines()[:4]
    assert result.stdout.splitlines() == expected
    assert f"{path}: corrupt data at byte 2877" in result.stderr
    assert "needs 394 bytes, 123 available" in result.stderr


def test_flipped_byte_in_a_copy(script_runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _copy_topic(tmp_path)
    data = bytearray(path.read_bytes())
    data[2877 + 200] ^= 0x40
    path.write_bytes(bytes(data))
    result = script_runner.run([PROG, str(path)])
    assert result.returncode == 3
    lines = result.stdout.splitlines()
    assert lines[:4] == EXPECTED_TOPIC_DUMP.format(path=path).splitlines()[:4]
    assert lines[4].endswith("crc: 3160044214 isvalid: false")
    assert f"{path}: corrupt data at byte 2877" in result.stderr


def test_verify_index_catches_a_bad_entry(script_runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _copy_topic(tmp_path)
    index = tmp_path / f"{SEGMENT}.index"
    index.write_bytes(struct.pack(">ii", 1, 1901) + struct.pack(">ii", 2, 2876))
    result = script_runner.run([PROG, "--verify-index", str(index)])
    assert result.returncode == 4
    assert result.stdout.splitlines()[-1] == (
        f"Index mismatch: offset: 2 position: 2876: no batch of {SEGMENT}.log starts at byte 2876"
    )
    assert "1 of 2 index entries do not match" in result.stderr
    plain = script_runner.run([PROG, str(index)])  # without verification: just the entries
    assert plain.returncode == 0


def test_missing_file_then_a_good_one(script_runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / f"{SEGMENT}.log"
    result = script_runner.run([PROG, str(missing), str(TOPIC_LOG)])
    assert result.returncode == 1
    assert result.stdout == EXPECTED_TOPIC_DUMP.format(path=TOPIC_LOG)
    assert result.stderr.strip() == f"{PROG}: error: {missing}: No such file or directory"


@SUBPROCESS
def test_missing_file_argument_exits_2(script_runner) -> None:  # type: ignore[no-untyped-def]
    result = script_runner.run([PROG])
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Usage: log-dump-segment" in result.stderr and "Missing argument" in result.stderr


@pytest.mark.parametrize(
    "args", [["--max-bytes", "many", str(TOPIC_LOG)], ["--max-bytes", "-1", "x"], ["--nope", "x"]]
)
def test_usage_errors_exit_2(script_runner, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    result = script_runner.run([PROG, *args])
    assert result.returncode == 2, args
    assert result.stdout == ""
    assert "Usage: log-dump-segment" in result.stderr


def test_help_goes_to_stdout(script_runner) -> None:  # type: ignore[no-untyped-def]
    result = script_runner.run([PROG, "--help"])
    assert result.returncode == 0
    assert "--verify-index" in result.stdout and result.stderr == ""


def _script() -> str:
    path = shutil.which(PROG, path=str(Path(sys.executable).parent))
    assert path is not None
    return path


def test_closed_stdout_ends_quietly() -> None:
    with subprocess.Popen(
        [_script(), "--print-data", "--deep-iteration", str(METADATA_LOG)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()  # like `| head -1`
        stderr = proc.stderr.read()
        returncode = proc.wait(timeout=30)
    assert first.startswith(b"Dumping ")
    assert returncode == 0
    assert stderr == b""


def test_ctrl_c_exits_130() -> None:
    with subprocess.Popen(
        [_script(), "--print-data", "--deep-iteration", str(METADATA_LOG)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None
        proc.stdout.readline()  # it runs; it will block once the pipe is full
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert stderr.decode().strip() == f"{PROG}: error: interrupted"
    assert stdout  # what had been accepted was flushed


def test_help_imports_nothing_heavy() -> None:
    # Start-up speed is measured by scripts/bench/startup.py, not asserted here (no timed
    # assertions in tests); what keeps it fast is deterministic: --help loads no heavy module.
    trace = subprocess.run(
        [sys.executable, "-X", "importtime", _script(), "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in trace.splitlines()}
    for heavy in ("rich", "tidelog.records", "tidelog.storage", "tidelog.cli.dump"):
        assert heavy not in imported, f"--help imports {heavy}"


@pytest.mark.parametrize("limit", ["1901", "2876"])
def test_max_bytes(script_runner, limit: str) -> None:  # type: ignore[no-untyped-def]
    result = script_runner.run([PROG, "--max-bytes", limit, str(TOPIC_LOG)])
    assert result.returncode == 0
    assert result.stdout.splitlines() == EXPECTED_TOPIC_DUMP.format(path=TOPIC_LOG).splitlines()[:3]


def test_a_cleaned_segment_shows_its_delete_horizon_and_tombstones(  # type: ignore[no-untyped-def]
    script_runner, tmp_path: Path
) -> None:
    from tidelog.storage.cleaner import clean_log
    from tidelog.storage.cleaner_map import OffsetMap
    from tidelog.storage.config import LogConfig
    from tidelog.storage.log import PartitionLog

    config = LogConfig(cleanup_policy="compact", delete_retention_ms=1000)
    plog = PartitionLog.open(tmp_path / "t-0", config, clock_ms=lambda: 50)
    plog.append(bytearray(build_batch([NewRecord(b"v", key=b"k", timestamp=5),
                                       NewRecord(None, key=b"k", timestamp=6)])), leader_epoch=0)
    plog.roll()
    plog.append(bytearray(build_batch([NewRecord(b"x", key=b"x", timestamp=7)])), leader_epoch=0)
    clean_log(plog, -1, OffsetMap(1 << 20), now_ms=50)
    plog.close()
    result = script_runner.run([PROG, "--print-data", str(tmp_path / "t-0" / f"{SEGMENT}.log")])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert (" count: 1 " in lines[2] and " lastOffset: 1 " in lines[2]
            and " deleteHorizonMs: OptionalLong[1050] " in lines[2])
    assert lines[3] == (
        "| offset: 1 CreateTime: 6 keySize: 1 valueSize: -1 sequence: -1 headerKeys: [] key: k"
    )


def test_quiet_verify_index_prints_only_the_problems(script_runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """-q --verify-index on the index of Apache Kafka's segment: only the mismatch line (and
    nothing at all for a matching index); it used to print every entry too."""
    _copy_topic(tmp_path)
    index = tmp_path / f"{SEGMENT}.index"
    index.write_bytes(struct.pack(">ii", 1, 1901) + struct.pack(">ii", 2, 2876))
    result = script_runner.run([PROG, "-q", "--verify-index", str(index)])
    assert result.returncode == 4
    assert result.stdout.splitlines() == [
        f"Index mismatch: offset: 2 position: 2876: no batch of {SEGMENT}.log starts at byte 2876"
    ]
    index.write_bytes(struct.pack(">ii", 1, 1901))
    good = script_runner.run([PROG, "-q", "--verify-index", "--json", str(index)])
    assert (good.returncode, good.stdout, good.stderr) == (0, "", "")


def _producer_snapshot(entries: list[tuple[int, ...]], version: int = 1) -> bytes:
    """Apache Kafka's producer state snapshot: int16 version, uint32 CRC-32C of the rest,
    int32 count, 46-byte entries (see tidelog.cli.dump.producer_snapshot)."""
    from tidelog.records.crc import crc32c

    body = struct.pack(">i", len(entries)) + b"".join(
        struct.pack(">qhiqiqiq", *e) for e in entries)
    return struct.pack(">hI", version, crc32c(body)) + body


def test_kafka_producer_snapshot_and_lock_and_empty_cleaner_checkpoint(  # type: ignore[no-untyped-def]
    script_runner, tmp_path: Path
) -> None:
    """Files of an Apache Kafka partition dir and log dir that log-dump-segment used to refuse
    ("unknown file type") or call corrupt: a producer snapshot, the .lock file and an empty
    cleaner-offset-checkpoint."""
    snapshot = tmp_path / "00000000000000000003.snapshot"
    snapshot.write_bytes(_producer_snapshot([
        (1, 0, 0, 0, 0, 1769792698283, -1, -1),
        (3, 2, 9, 2, 4, 1769793578165, 5, 2),
    ]))
    lock = tmp_path / ".lock"
    lock.write_bytes(b"")
    cleaner = tmp_path / "cleaner-offset-checkpoint"
    cleaner.write_bytes(b"")
    result = script_runner.run([PROG, str(snapshot), str(lock), str(cleaner)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"Dumping {snapshot}",
        "producerId: 1 producerEpoch: 0 coordinatorEpoch: -1 currentTxnFirstOffset: -1 "
        "firstSequence: 0 lastSequence: 0 lastOffset: 0 offsetDelta: 0 timestamp: 1769792698283",
        "producerId: 3 producerEpoch: 2 coordinatorEpoch: 5 currentTxnFirstOffset: 2 "
        "firstSequence: 5 lastSequence: 9 lastOffset: 2 offsetDelta: 4 timestamp: 1769793578165",
        f"Dumping {lock}",
        "log directory lock file, 0 bytes, not held",
        f"Dumping {cleaner}",
    ]
    docs = [orjson.loads(line) for line in
            script_runner.run([PROG, "--json", str(snapshot)]).stdout.splitlines()]
    assert docs[0] == {"type": "file", "file": str(snapshot), "kind": "producer-snapshot",
                       "offset": 3}
    assert docs[2]["type"] == "producerSnapshotEntry" and docs[2]["coordinatorEpoch"] == 5
    damaged = bytearray(snapshot.read_bytes())
    damaged[-1] ^= 1
    snapshot.write_bytes(bytes(damaged))
    bad = script_runner.run([PROG, str(snapshot)])
    assert bad.returncode == 3 and "CRC mismatch" in bad.stderr


@SUBPROCESS
def test_a_held_lock_is_reported(script_runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lock = tmp_path / ".lock"
    lock.write_bytes(b"")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys; f = open(sys.argv[1], 'r+'); "
         "fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); sys.stdin.read()",
         str(lock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        result = script_runner.run([PROG, str(lock)])
        assert result.stdout.splitlines()[-1] == (
            "log directory lock file, 0 bytes, held by a running process")
    finally:
        holder.kill()
        holder.wait()
