"""ElectLeaders and the reassignment APIs on a single node, in process: the one broker's own
replica list is accepted, another broker is INVALID_REPLICA_ASSIGNMENT, nothing moves, the
preferred replica already leads."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from tidelog.broker.config import BrokerConfig
from tidelog.broker.core import BrokerCore
from tidelog.broker.dispatch import Dispatcher
from tidelog.protocol import (
    ApiKey,
    ErrorCode,
    RequestHeader,
    decode_response,
    encode_request,
    join_parts,
)


@pytest.fixture
def core(tmp_path: Path) -> Any:
    config = BrokerConfig.load(env={}, overrides={"data_dir": str(tmp_path)})
    broker = BrokerCore(config)
    broker.start()
    broker.create_topic("t", 2, 1, {})
    yield broker
    broker.shutdown()


def call(core: BrokerCore, key: ApiKey, version: int, body: dict[str, Any]) -> Any:
    frame = join_parts(encode_request(RequestHeader(key, version, 7, "unit"), body))
    parts = asyncio.run(Dispatcher(core).dispatch(frame))
    assert parts is not None
    return decode_response(key, version, join_parts(parts))[1]


def test_reassignment_on_one_node(core: BrokerCore) -> None:
    me = core.node_id
    body = {"topics": [{"name": "t", "partitions": [
        {"partition_index": 0, "replicas": [me]},
        {"partition_index": 1, "replicas": [me + 1]},
        {"partition_index": 5, "replicas": [me]},
    ]}, {"name": "t", "partitions": []}]}
    resp = call(core, ApiKey.ALTER_PARTITION_REASSIGNMENTS, 0, body)
    assert resp.error_code == 0
    codes = [p.error_code for t in resp.responses for p in t.partitions]
    assert codes == [0, ErrorCode.INVALID_REPLICA_ASSIGNMENT, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]
    listed = call(core, ApiKey.LIST_PARTITION_REASSIGNMENTS, 0, {"topics": None})
    assert listed.error_code == 0 and listed.topics == []
    cancel = call(core, ApiKey.ALTER_PARTITION_REASSIGNMENTS, 1, {"topics": [
        {"name": "t", "partitions": [{"partition_index": 0, "replicas": None}]}]})
    assert cancel.responses[0].partitions[0].error_code == ErrorCode.NO_REASSIGNMENT_IN_PROGRESS


@pytest.mark.parametrize("version", [0, 1, 2])
def test_elect_leaders_on_one_node(core: BrokerCore, version: int) -> None:
    resp = call(core, ApiKey.ELECT_LEADERS, version, {
        "election_type": 0, "topic_partitions": [{"topic": "t", "partitions": [0, 9]}]})
    results = [(r.topic, p.partition_id, p.error_code)
               for r in resp.replica_election_results for p in r.partition_result]
    assert results == [("t", 0, ErrorCode.ELECTION_NOT_NEEDED),
                       ("t", 9, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)]
    every = call(core, ApiKey.ELECT_LEADERS, version, {"election_type": 0,
                                                        "topic_partitions": None})
    assert every.replica_election_results == []  # nothing needed an election
