"""The log-dump-segment engine, in-process: batch and record lines, JSON, corruption, indexes,
checkpoints, with batches made by the records builder and Kafka's own files."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import orjson
import pytest
from cli_capture import Runner
from tidelog.cli.dump.kinds import FileKind, detect
from tidelog.cli.dump.text import json_bytes, printable
from tidelog.records.batch_header import (
    DELETE_HORIZON_BIT,
    Compression,
    restamp_crc,
    set_log_append_time,
)
from tidelog.records.builder import build_batch
from tidelog.records.record import NewRecord

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kafka-logdir"
TOPIC_LOG = FIXTURES / "TestTopicPatient-0" / "00000000000000000000.log"
SEGMENT = "00000000000000000000"


def _segment(tmp_path: Path, *batches: bytes, name: str = SEGMENT) -> Path:
    path = tmp_path / f"{name}.log"
    path.write_bytes(b"".join(batches))
    return path


def _three_batches() -> list[bytes]:
    return [
        build_batch([NewRecord(b"v0", key=b"k0", timestamp=1000)], base_offset=0),
        build_batch(
            [NewRecord(b"v1", timestamp=2000), NewRecord(None, key=b"k2", timestamp=2500)],
            base_offset=1,
        ),
        build_batch(
            [NewRecord(b"v3", headers=[("h1", b"x"), ("h2", None)], timestamp=3000)], base_offset=3
        ),
    ]


@pytest.mark.parametrize(
    ("name", "kind", "base"),
    [
        ("00000000000000000042.log", FileKind.LOG, 42),
        ("00000000000000000042.log.deleted", FileKind.LOG, 42),
        ("00000000000000000042.index", FileKind.OFFSET_INDEX, 42),
        ("00000000000000000042.timeindex", FileKind.TIME_INDEX, 42),
        ("00000000000000000042-0000000003.checkpoint", FileKind.SNAPSHOT, 42),
        ("bootstrap.checkpoint", FileKind.SNAPSHOT, None),
        ("recovery-point-offset-checkpoint", FileKind.OFFSET_CHECKPOINT, None),
        ("cleaner-offset-checkpoint", FileKind.OFFSET_CHECKPOINT, None),
        ("leader-epoch-checkpoint", FileKind.LEADER_EPOCH_CHECKPOINT, None),
        ("partition.metadata", FileKind.PARTITION_METADATA, None),
        ("meta.properties", FileKind.META_PROPERTIES, None),
        ("quorum-state", FileKind.QUORUM_STATE, None),
        ("other.log", FileKind.LOG, None),
        ("00000000000000000042.snapshot", FileKind.PRODUCER_SNAPSHOT, 42),  # issue 9
        (".lock", FileKind.LOCK, None),
        ("00000000000000000042.txnindex", FileKind.TXN_INDEX, 42),
        ("README", FileKind.UNKNOWN, None),
    ],
)
def test_detect_by_name(name: str, kind: FileKind, base: int | None) -> None:
    detected = detect(Path("/some/dir") / name)
    assert detected.kind is kind
    assert detected.base_offset == base


def test_printable_and_json_bytes() -> None:
    assert printable(b'{"a":\r\n\t1}\x00\xff') == '{"a":\\r\\n\\t1}\\x00\\xff'
    assert printable("é".encode()) == "é"
    assert json_bytes(None) == (None, None)
    assert json_bytes(b"text") == ("text", "utf-8")
    assert json_bytes(b"\xff\x00") == ("/wA=", "base64")
    assert json_bytes(b"a\x00b") == ("YQBi", "base64")


def test_kafka_topic_log_lines(dump: Runner) -> None:
    result = dump([TOPIC_LOG])
    assert result.status == 0, result.stderr
    assert result.lines[:2] == [f"Dumping {TOPIC_LOG}", "Log starting offset: 0"]
    crcs = [int(line.split(" crc: ")[1].split()[0]) for line in result.lines[2:]]
    sizes = [int(line.split(" size: ")[1].split()[0]) for line in result.lines[2:]]
    assert crcs == [3321075021, 2459829793, 3160044214]
    assert sizes == [1901, 976, 394]


def test_record_lines_and_payloads(dump: Runner, tmp_path: Path) -> None:
    path = _segment(tmp_path, *_three_batches())
    plain = dump([path])
    assert len(plain.lines) == 5  # no record lines without --print-data / --deep-iteration
    result = dump([path], print_data=True)
    assert result.status == 0, result.stderr
    records = [line for line in result.lines if line.startswith("| ")]
    assert records == [
        "| offset: 0 CreateTime: 1000 keySize: 2 valueSize: 2 sequence: -1 headerKeys: [] "
        "key: k0 payload: v0",
        "| offset: 1 CreateTime: 2000 keySize: -1 valueSize: 2 sequence: -1 headerKeys: [] "
        "payload: v1",
        "| offset: 2 CreateTime: 2500 keySize: 2 valueSize: -1 sequence: -1 headerKeys: [] key: k2",
        "| offset: 3 CreateTime: 3000 keySize: -1 valueSize: 2 sequence: -1 headerKeys: [h1,h2] "
        "payload: v3",
    ]
    deep = dump([path], deep_iteration=True)
    assert next(line for line in deep.lines if line.startswith("| ")) == (
        "| offset: 0 CreateTime: 1000 keySize: 2 valueSize: 2 sequence: -1 headerKeys: []"
    )


def test_batch_line_fields(dump: Runner, tmp_path: Path) -> None:
    records = [
        NewRecord(b"a", timestamp=10),
        NewRecord(b"b", timestamp=30),
        NewRecord(b"c", timestamp=20),
    ]
    txn = build_batch(
        records,
        base_offset=7,
        producer_id=99,
        producer_epoch=4,
        base_sequence=2**31 - 2,
        partition_leader_epoch=12,
        is_transactional=True,
    )
    appended = bytearray(build_batch([NewRecord(b"z", timestamp=5)], base_offset=10))
    set_log_append_time(appended, 0, 777)
    horizon = bytearray(build_batch([NewRecord(b"y", timestamp=123)], base_offset=11))
    struct.pack_into(
        ">h", horizon, 21, struct.unpack_from(">h", horizon, 21)[0] | DELETE_HORIZON_BIT
    )
    restamp_crc(horizon)
    path = _segment(tmp_path, txn, bytes(appended), bytes(horizon))
    result = dump([path], deep_iteration=True)
    assert result.status == 0, result.stderr
    first = result.lines[2]
    assert first.startswith(
        "baseOffset: 7 lastOffset: 9 count: 3 baseSequence: 2147483646 lastSequence: 0 "
        "producerId: 99 producerEpoch: 4 partitionLeaderEpoch: 12 isTransactional: true "
        "isControl: false deleteHorizonMs: OptionalLong.empty position: 0 CreateTime: 30 "
        f"size: {len(txn)} magic: 2 compresscodec: none crc: "
    )
    assert first.endswith(" isvalid: true")
    sequences = [line.split(" sequence: ")[1].split()[0] for line in result.lines[3:6]]
    assert sequences == ["2147483646", "2147483647", "0"]
    assert f" position: {len(txn)} LogAppendTime: 777 " in result.lines[6]
    assert result.lines[7].startswith("| offset: 10 LogAppendTime: 777 ")
    assert " deleteHorizonMs: OptionalLong[123] " in result.lines[8]


def test_control_records(dump: Runner, tmp_path: Path) -> None:
    commit = build_batch(
        [NewRecord(struct.pack(">hi", 0, 5), key=struct.pack(">hh", 0, 1), timestamp=1)],
        producer_id=3,
        is_transactional=True,
        is_control=True,
    )
    leader = build_batch(
        [NewRecord(b"\x00" * 8, key=struct.pack(">hh", 0, 2), timestamp=1)],
        base_offset=1,
        is_control=True,
    )
    path = _segment(tmp_path, commit, leader)
    result = dump([path], print_data=True)
    assert result.lines[3].endswith(" endTxnMarker: COMMIT coordinatorEpoch: 5")
    assert result.lines[5].endswith(" controlType: LEADER_CHANGE(2)")
    docs = [orjson.loads(line) for line in dump([path], print_data=True, json=True).lines]
    assert docs[1]["records"][0]["controlType"] == "COMMIT"
    assert docs[1]["records"][0]["coordinatorEpoch"] == 5


@pytest.mark.parametrize(
    "codec", [Compression.GZIP, Compression.SNAPPY, Compression.LZ4, Compression.ZSTD]
)
def test_compressed_batches(dump: Runner, tmp_path: Path, codec: int) -> None:
    batch = build_batch(
        [NewRecord(f"value {i}".encode(), timestamp=100 + i) for i in range(5)], compression=codec
    )
    path = _segment(tmp_path, batch)
    shallow = dump([path], print_data=True)
    assert shallow.status == 0
    assert len(shallow.lines) == 3
    assert f" compresscodec: {Compression.NAMES[codec]} " in shallow.lines[2]
    assert "add --deep-iteration" in shallow.stderr
    deep = dump([path], print_data=True, deep_iteration=True)
    assert deep.status == 0, deep.stderr
    payloads = [line.split(" payload: ")[1] for line in deep.lines[3:]]
    assert payloads == [f"value {i}" for i in range(5)]
    assert deep.stderr == ""


def test_json_schema(dump: Runner, tmp_path: Path) -> None:
    binary = build_batch(
        [NewRecord(b"\xff\xfe", key=b"key", headers=[("h", b"\x00")], timestamp=9)]
    )
    path = _segment(tmp_path, binary)
    result = dump([path], json=True, print_data=True)
    assert result.status == 0
    file_doc, batch = (orjson.loads(line) for line in result.lines)
    assert file_doc == {
        "type": "file",
        "file": str(path),
        "kind": "log",
        "baseOffset": 0,
        "size": len(binary),
    }
    assert batch["type"] == "batch"
    assert batch["size"] == len(binary)
    assert batch["timestampType"] == "CreateTime"
    assert batch["maxTimestamp"] == 9
    assert batch["deleteHorizonMs"] is None
    assert batch["isvalid"] is True
    assert batch["records"] == [
        {
            "offset": 0,
            "timestamp": 9,
            "keySize": 3,
            "valueSize": 2,
            "sequence": -1,
            "headerKeys": ["h"],
            "key": "key",
            "keyEncoding": "utf-8",
            "payload": "//4=",
            "payloadEncoding": "base64",
            "headers": [{"key": "h", "value": "AA==", "valueEncoding": "base64"}],
        }
    ]
    no_records = orjson.loads(dump([path], json=True).lines[1])
    assert "records" not in no_records


def test_truncated_log_prints_the_valid_prefix(dump: Runner, tmp_path: Path) -> None:
    data = TOPIC_LOG.read_bytes()
    for cut in (1901 + 976 + 5, 1901 + 976 + 100, len(data) - 1):
        path = tmp_path / f"{SEGMENT}.log"
        path.write_bytes(data[:cut])
        result = dump([path])
        assert result.status == 3
        assert len(result.lines) == 4  # Dumping, Log starting offset, two batches
        assert f"{path}: corrupt data at byte 2877" in result.stderr


def test_flipped_byte_marks_the_batch_invalid_and_goes_on(dump: Runner, tmp_path: Path) -> None:
    data = bytearray(TOPIC_LOG.read_bytes())
    data[1901 + 500] ^= 0x01
    path = _segment(tmp_path, bytes(data))
    result = dump([path], print_data=True)
    assert result.status == 3
    batch_lines = [line for line in result.lines if line.startswith("baseOffset")]
    assert [line.endswith("isvalid: true") for line in batch_lines] == [True, False, True]
    assert "corrupt data at byte 1901" in result.stderr
    assert "fails its CRC" in result.stderr
    # Records of the bad batch are not shown; those of the good ones are.
    assert [line.split()[2] for line in result.lines if line.startswith("| ")] == ["0", "2"]


def test_broken_frame_stops_the_walk(dump: Runner, tmp_path: Path) -> None:
    data = bytearray(TOPIC_LOG.read_bytes())
    data[1901 + 16] = 1  # magic of the second batch
    path = _segment(tmp_path, bytes(data))
    result = dump([path])
    assert result.status == 3
    assert len([line for line in result.lines if line.startswith("baseOffset")]) == 1
    assert "corrupt data at byte 1901" in result.stderr and "magic 1" in result.stderr


def test_missing_file_does_not_stop_the_others(dump: Runner, tmp_path: Path) -> None:
    missing = tmp_path / f"{SEGMENT}.log"
    result = dump([missing, TOPIC_LOG, tmp_path])
    assert result.status == 1
    assert f"{missing}: No such file or directory" in result.stderr
    assert "Is a directory" in result.stderr
    assert result.lines[0] == f"Dumping {TOPIC_LOG}"
    assert len(result.lines) == 5


def test_unknown_file_type(dump: Runner, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    result = dump([path])
    assert result.status == 1
    assert "unknown file type" in result.stderr
    assert result.stdout == ""


def test_worst_status_wins(dump: Runner, tmp_path: Path) -> None:
    bad = _segment(tmp_path, TOPIC_LOG.read_bytes()[:100])
    assert dump([tmp_path / "missing.log", bad]).status == 3


def test_max_bytes(dump: Runner, tmp_path: Path) -> None:
    for limit, batches in ((0, 0), (1900, 0), (1901, 1), (2877, 2), (10**9, 3)):
        result = dump([TOPIC_LOG], max_bytes=limit)
        assert result.status == 0
        assert len(result.lines) == 2 + batches


def _write_index(path: Path, entries: list[tuple[int, int]], fmt: str, zeros: int = 0) -> None:
    entry = struct.Struct(fmt)
    path.write_bytes(b"".join(entry.pack(*e) for e in entries) + bytes(entry.size * zeros))


@pytest.fixture
def segment_dir(tmp_path: Path) -> Path:
    shutil.copy(TOPIC_LOG, tmp_path / f"{SEGMENT}.log")
    return tmp_path


def test_offset_index_dump_and_verify(dump: Runner, segment_dir: Path) -> None:
    index = segment_dir / f"{SEGMENT}.index"
    _write_index(index, [(1, 1901), (2, 2877)], ">ii", zeros=5)  # preallocated tail
    result = dump([index], verify_index=True)
    assert result.status == 0, result.stderr
    assert result.lines == [
        f"Dumping {index}",
        "offset: 1 position: 1901",
        "offset: 2 position: 2877",
    ]
    _write_index(index, [(1, 1901), (2, 2000), (3, 2877)], ">ii")
    bad = dump([index], verify_index=True)
    assert bad.status == 4
    mismatches = [line for line in bad.lines if line.startswith("Index mismatch")]
    assert mismatches == [
        "Index mismatch: offset: 2 position: 2000: no batch of 00000000000000000000.log starts "
        "at byte 2000",
        "Index mismatch: offset: 3 position: 2877: the batch at byte 2877 of "
        "00000000000000000000.log holds offsets 2..2",
    ]
    assert "2 of 3 index entries do not match" in bad.stderr
    docs = [orjson.loads(line) for line in dump([index], verify_index=True, json=True).lines]
    assert [d["type"] for d in docs] == ["file"] + ["indexEntry"] * 3 + ["indexMismatch"] * 2
    assert docs[4]["offset"] == 2 and docs[4]["position"] == 2000


def test_time_index_dump_and_verify(dump: Runner, segment_dir: Path) -> None:
    index = segment_dir / f"{SEGMENT}.timeindex"
    _write_index(index, [(1769793423115, 1), (1769793578165, 2)], ">qi", zeros=2)
    result = dump([index], verify_index=True)
    assert result.status == 0, result.stderr
    assert result.lines[1:] == [
        "timestamp: 1769793423115 offset: 1",
        "timestamp: 1769793578165 offset: 2",
    ]
    _write_index(index, [(1769793423115, 1), (1769793578000, 2), (1769793578165, 7)], ">qi")
    bad = dump([index], verify_index=True)
    assert bad.status == 4
    assert [line.split(": ", 1)[1].split(":")[0] for line in bad.lines if "mismatch" in line] == [
        "timestamp",
        "timestamp",
    ]
    assert "has maxTimestamp 1769793578165" in bad.stdout
    assert "offset 7 is in no valid batch" in bad.stdout


def test_index_with_a_torn_entry_is_corrupt(dump: Runner, segment_dir: Path) -> None:
    index = segment_dir / f"{SEGMENT}.index"
    index.write_bytes(struct.pack(">ii", 1, 1901) + b"\x00\x00\x00")
    result = dump([index])
    assert result.status == 3
    assert str(index) in result.stderr and "corrupt data" in result.stderr


def test_verify_without_a_log_is_an_error(dump: Runner, tmp_path: Path) -> None:
    index = tmp_path / f"{SEGMENT}.index"
    _write_index(index, [(1, 1901)], ">ii")
    result = dump([index], verify_index=True)
    assert result.status == 1
    assert "cannot verify" in result.stderr


def test_kafka_checkpoints_and_metadata_files(dump: Runner) -> None:
    result = dump(
        [
            FIXTURES / "replication-offset-checkpoint",
            FIXTURES / "TestTopicPatient-0" / "leader-epoch-checkpoint",
            FIXTURES / "TestTopicPatient-0" / "partition.metadata",
            FIXTURES / "meta.properties",
            FIXTURES / "__cluster_metadata-0" / "quorum-state",
        ]
    )
    assert result.status == 0, result.stderr
    assert "topic: TestTopicPatient partition: 0 offset: 3" in result.lines
    assert "topic: __consumer_offsets partition: 6 offset: 13" in result.lines
    assert "epoch: 0 startOffset: 0" in result.lines
    assert "version: 0 topicId: B3_HiNPgSQ6oxG9ZZ6ED5A" in result.lines
    assert "cluster.id=q1w2e3r4t5y6u7i8o9p0" in result.lines
    assert '  "leaderEpoch": 1,' in result.lines
    docs = [
        orjson.loads(line)
        for line in dump(
            [FIXTURES / "meta.properties", FIXTURES / "__cluster_metadata-0" / "quorum-state"],
            json=True,
        ).lines
    ]
    assert docs[1]["properties"]["node.id"] == "1"
    assert docs[3]["state"]["currentVoters"] == [{"voterId": 1}]


def test_malformed_checkpoint_is_corrupt(dump: Runner, tmp_path: Path) -> None:
    path = tmp_path / "recovery-point-offset-checkpoint"
    path.write_text("0\n2\ntopic 0 5\n")
    result = dump([path])
    assert result.status == 3
    assert "line 2" in result.stderr


def test_kafka_metadata_log_and_bootstrap_snapshot(dump: Runner) -> None:
    result = dump(
        [FIXTURES / "__cluster_metadata-0" / SEGMENT, FIXTURES / "bootstrap.checkpoint"],
        deep_iteration=True,
    )
    assert result.status == 1  # the first name has no suffix: unknown type
    result = dump(
        [FIXTURES / "__cluster_metadata-0" / f"{SEGMENT}.log", FIXTURES / "bootstrap.checkpoint"],
        deep_iteration=True,
    )
    assert result.status == 0, result.stderr
    batches = [line for line in result.lines if line.startswith("baseOffset")]
    assert len(batches) == 4814 + 3
    assert all(line.endswith("isvalid: true") for line in batches)
    assert (
        "| offset: 0 CreateTime: 1769791434349 keySize: 4 valueSize: 19 sequence: -1 "
        'headerKeys: [] LeaderChange: {"version":0,"leaderId":1,"voters":[{"voterId":1}],'
        '"grantingVoters":[{"voterId":1}]}' in result.lines
    )
    assert result.lines.count(f"Dumping {FIXTURES / 'bootstrap.checkpoint'}") == 1
    assert any(line.endswith('SnapshotFooter {"version":0}') for line in result.lines)


def test_txnindex_snapshot_and_markers_as_kafka_dump_log_prints_them(
        dump: Runner, tmp_path: Path) -> None:
    from tidelog.records.control import ABORT, Marker, build_marker_batch
    from tidelog.storage.config import LogConfig
    from tidelog.storage.log import PartitionLog

    plog = PartitionLog.open(tmp_path / "t-0", LogConfig())
    for pid in (7, 8):
        plog.append(bytearray(build_batch([NewRecord(b"v")], producer_id=pid, producer_epoch=2,
                                          base_sequence=0, is_transactional=True)),
                    leader_epoch=0)
    plog.append(bytearray(build_marker_batch(7, 2, Marker(ABORT, 5))), leader_epoch=0)
    plog.close()  # the snapshot: producer 8's transaction is still open
    d = tmp_path / "t-0"
    assert detect(d / "00000000000000000000.txnindex").kind is FileKind.TXN_INDEX
    result = dump([d / "00000000000000000000.txnindex", d / "00000000000000000003.snapshot"])
    assert result.status == 0, result.stderr
    assert result.lines[1] == ("version: 0 producerId: 7 firstOffset: 0 lastOffset: 2 "
                               "lastStableOffset: 1")
    assert result.lines[3].startswith("producerId: 8 producerEpoch: 2 coordinatorEpoch: -1 "
                                      "currentTxnFirstOffset: 1 ")
    marker = dump([d / "00000000000000000000.log"], deep_iteration=True).lines[-1]
    assert marker.endswith("endTxnMarker: ABORT coordinatorEpoch: 5")
    (d / "00000000000000000003.snapshot").write_bytes(b"\x00\x01broken")
    assert dump([d / "00000000000000000003.snapshot"]).status == 3


def test_cluster_metadata_decoder_prints_what_kafka_dump_log_prints(dump: Runner) -> None:
    result = dump([FIXTURES / "bootstrap.checkpoint"], print_data=True, cluster_metadata=True)
    assert result.status == 0
    assert result.lines[2].endswith(
        ' SnapshotHeader {"version":0,"lastContainedLogTimestamp":0}')
    assert result.lines[4].endswith(
        ' payload: {"type":"FEATURE_LEVEL_RECORD","version":0,'
        '"data":{"name":"metadata.version","featureLevel":19}}')
    assert result.lines[6].endswith(' SnapshotFooter {"version":0}')
    log = FIXTURES / "__cluster_metadata-0" / SEGMENT
    lines = dump([f"{log}.log"], print_data=True, cluster_metadata=True).lines
    assert lines[3].endswith(' LeaderChange: {"version":0,"leaderId":1,'
                             '"voters":[{"voterId":1}],"grantingVoters":[{"voterId":1}]}')
    topic = next(line for line in lines if '"TOPIC_RECORD"' in line)
    assert topic.endswith('payload: {"type":"TOPIC_RECORD","version":0,"data":'
                          '{"name":"__consumer_offsets","topicId":"gSnfpEbtQfSDpxM2lhEn9A"}}')
    assert ' key: ' not in "".join(lines) and "Error at" not in "".join(lines)
    change = next(line for line in lines if '"PARTITION_CHANGE_RECORD"' in line)
    # tagged fields only when not at their default, as Kafka's JSON converters write them
    assert change.endswith('"data":{"partitionId":0,"topicId":"_g4of-T3Rq-jr09kDxtjFA",'
                           '"leader":-1}}')


def test_cluster_metadata_decoder_reports_what_is_no_metadata_record(dump: Runner,
                                                                     tmp_path: Path) -> None:
    path = _segment(tmp_path, build_batch([NewRecord(b"plain text", timestamp=1)]))
    result = dump([path], print_data=True, cluster_metadata=True)
    assert result.status == 0
    assert result.lines[3].endswith(
        " payload: Error at 0, skipping. metadata record has frame version 112, not 1")
    doc = orjson.loads(dump([path], print_data=True, cluster_metadata=True, json=True).lines[1])
    assert doc["records"][0]["metadataError"].startswith("Error at 0, skipping.")
    boot = dump([FIXTURES / "bootstrap.checkpoint"], print_data=True, cluster_metadata=True,
                json=True).lines
    docs = [orjson.loads(line) for line in boot]
    assert docs[1]["records"][0]["control"] == {"version": 0, "lastContainedLogTimestamp": 0}
    assert docs[2]["records"][0]["metadata"]["data"] == {"name": "metadata.version",
                                                         "featureLevel": 19}
