"""quorum-state in Kafka's JSON format; the format of earlier tidelog versions is converted."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from tidelog.broker.quorum import DiskRaftStorage
from tidelog.broker.quorum.quorum_state import (
    QUORUM_STATE_FILE,
    decode_hard_state,
    encode_hard_state,
)
from tidelog.metadata.errors import MetadataError
from tidelog.metadata.log import METADATA_LOG_DIR
from tidelog.raft import HardState

KAFKA_STATE = (Path(__file__).resolve().parents[2] / "fixtures" / "kafka-logdir"
               / METADATA_LOG_DIR / QUORUM_STATE_FILE)


def test_kafka_written_state_is_read() -> None:
    # Kafka's leader of epoch 1, with no vote recorded: read as a vote for the leader
    assert decode_hard_state(KAFKA_STATE.read_bytes()) == HardState(1, 1, 0)
    v1 = (b'{"leaderId":-1,"leaderEpoch":7,"votedId":3,'
          b'"votedDirectoryId":"AAAAAAAAAAAAAAAAAAAAAA","data_version":1}')
    assert decode_hard_state(v1) == HardState(7, 3, 0)


def test_written_state_has_kafkas_fields_and_reads_back() -> None:
    state = HardState(4, 2, 17)
    obj = orjson.loads(encode_hard_state(state, [3, 1, 2]))
    kafka = orjson.loads(KAFKA_STATE.read_bytes())
    assert set(kafka) <= set(obj)  # every field Kafka writes, and the same types
    assert {k: type(v) for k, v in kafka.items()} == {k: type(obj[k]) for k in kafka}
    assert obj["currentVoters"] == [{"voterId": 1}, {"voterId": 2}, {"voterId": 3}]
    assert (obj["leaderEpoch"], obj["votedId"], obj["data_version"]) == (4, 2, 0)
    assert decode_hard_state(encode_hard_state(state)) == state
    assert orjson.loads(encode_hard_state(HardState(4, None, 0)))["votedId"] == -1


def test_earlier_tidelog_state_is_read_and_rewritten_in_kafkas_format(tmp_path: Path) -> None:
    st = DiskRaftStorage(tmp_path, (1,))
    path = st.dir / QUORUM_STATE_FILE
    path.write_bytes(b'{"epoch":5,"voted_for":null,"high_watermark":9}')
    assert st.load().hard_state == HardState(5, None, 9)
    st.sync()
    st.close()
    assert orjson.loads(path.read_bytes())["data_version"] == 0
    assert DiskRaftStorage(tmp_path).load().hard_state == HardState(5, None, 9)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"leaderEpoch":1,"data_version":2}', "data_version 2"),
        (b'{"votedId":1,"data_version":0}', "'leaderEpoch' must be an integer"),
        (b'{"leaderEpoch":true,"data_version":0}', "'leaderEpoch' must be an integer"),
        (b'{"leaderEpoch":-3,"data_version":0}', "negative epoch"),
        (b'{"epoch":1,"voted_for":"x","high_watermark":0}', "'voted_for' must be"),
    ],
)  # fmt: skip
def test_unreadable_state_is_refused(raw: bytes, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        decode_hard_state(raw)
