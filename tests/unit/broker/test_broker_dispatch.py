"""The dispatcher, in process (no sockets): a handler that raises is answered with its API's
error shape for every served version, unknown and malformed requests close the connection,
and an unsupported ApiVersions version gets the downgrade answer."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from tidelog.broker.config import BrokerConfig
from tidelog.broker.core import BrokerCore
from tidelog.broker.dispatch import CloseConnection, Dispatcher
from tidelog.broker.handlers import HANDLERS
from tidelog.broker.handlers.base import Handler
from tidelog.protocol import (
    SUPPORTED_VERSIONS,
    ApiKey,
    ErrorCode,
    RequestHeader,
    decode_response,
    encode_request,
    join_parts,
)

K = ApiKey
_TOPIC = {"name": "t", "topic": "t", "topic_id": None}

SAMPLES: dict[ApiKey, dict[str, Any]] = {
    K.PRODUCE: {"acks": -1, "timeout_ms": 1, "topic_data": [
        {"name": "t", "partition_data": [{"index": 0, "records": None}]}]},
    K.FETCH: {"max_wait_ms": 0, "min_bytes": 1, "topics": [
        {"topic": "t", "partitions": [{"partition": 0, "fetch_offset": 0,
                                       "partition_max_bytes": 1}]}]},
    K.LIST_OFFSETS: {"replica_id": -1, "topics": [
        {"name": "t", "partitions": [{"partition_index": 0, "timestamp": -1}]}]},
    K.METADATA: {"topics": [{"name": "t"}]},
    K.API_VERSIONS: {},
    K.CREATE_TOPICS: {"topics": [{"name": "t", "num_partitions": 1,
                                  "replication_factor": 1}]},
    K.DELETE_TOPICS: {"topic_names": ["t"], "topics": [{"name": "t"}], "timeout_ms": 1},
    K.INIT_PRODUCER_ID: {"transactional_id": None, "transaction_timeout_ms": 1},
    K.OFFSET_FOR_LEADER_EPOCH: {"topics": [
        {"topic": "t", "partitions": [{"partition": 0, "leader_epoch": 0}]}]},
    K.DESCRIBE_CONFIGS: {"resources": [
        {"resource_type": 2, "resource_name": "t", "configuration_keys": None}]},
    K.CREATE_PARTITIONS: {"topics": [{"name": "t", "count": 2, "assignments": None}],
                          "timeout_ms": 1},
    K.INCREMENTAL_ALTER_CONFIGS: {"resources": [
        {"resource_type": 2, "resource_name": "t", "configs": []}]},
    K.DESCRIBE_CLUSTER: {},
    K.ELECT_LEADERS: {"election_type": 0,
                      "topic_partitions": [{"topic": "t", "partitions": [0]}]},
    K.ALTER_PARTITION_REASSIGNMENTS: {"topics": [
        {"name": "t", "partitions": [{"partition_index": 0, "replicas": [1]}]}]},
    K.LIST_PARTITION_REASSIGNMENTS: {"topics": None},
    K.DESCRIBE_LOG_DIRS: {"topics": None},
    K.DESCRIBE_QUORUM: {"topics": [{"topic_name": "__cluster_metadata",
                                    "partitions": [{"partition_index": 0}]}]},
    K.FIND_COORDINATOR: {"key": "g", "coordinator_keys": ["g"]},
    K.JOIN_GROUP: {"group_id": "g", "session_timeout_ms": 10000, "member_id": "m",
                   "protocol_type": "consumer", "protocols": [{"name": "range", "metadata": b""}]},
    K.SYNC_GROUP: {"group_id": "g", "generation_id": 1, "member_id": "m", "assignments": []},
    K.HEARTBEAT: {"group_id": "g", "generation_id": 1, "member_id": "m"},
    K.LEAVE_GROUP: {"group_id": "g", "member_id": "m", "members": [{"member_id": "m"}]},
    K.OFFSET_COMMIT: {"group_id": "g", "member_id": "m", "topics": [
        {"name": "t", "partitions": [{"partition_index": 0, "committed_offset": 1,
                                      "committed_metadata": None}]}]},
    K.OFFSET_FETCH: {"group_id": "g", "topics": [{"name": "t", "partition_indexes": [0]}],
                     "groups": [{"group_id": "g", "topics": [
                         {"name": "t", "partition_indexes": [0]}]}]},
    K.OFFSET_DELETE: {"group_id": "g", "topics": [
        {"name": "t", "partitions": [{"partition_index": 0}]}]},
    K.LIST_GROUPS: {},
    K.DESCRIBE_GROUPS: {"groups": ["g"]},
    K.DELETE_GROUPS: {"groups_names": ["g"]},
    K.ALTER_CONFIGS: {"resources": [
        {"resource_type": 2, "resource_name": "t", "configs": []}]},
    K.DELETE_RECORDS: {"topics": [{"name": "t", "partitions": [
        {"partition_index": 0, "offset": -1}]}], "timeout_ms": 1},
    K.DESCRIBE_TOPIC_PARTITIONS: {"topics": [{"name": "t"}]},
    K.DESCRIBE_ACLS: {"resource_type_filter": 1, "operation": 1, "permission_type": 1},
    K.CREATE_ACLS: {"creations": [{"resource_type": 2, "resource_name": "t",
                                   "principal": "User:a", "host": "*", "operation": 3,
                                   "permission_type": 3}]},
    K.DELETE_ACLS: {"filters": [{"resource_type_filter": 1, "operation": 1,
                                 "permission_type": 1}]},
    K.ADD_PARTITIONS_TO_TXN: {
        "v3_and_below_transactional_id": "x", "v3_and_below_producer_id": 1,
        "v3_and_below_producer_epoch": 0,
        "v3_and_below_topics": [{"name": "t", "partitions": [0]}],
        "transactions": [{"transactional_id": "x", "producer_id": 1, "producer_epoch": 0,
                          "topics": [{"name": "t", "partitions": [0]}]}]},
    K.ADD_OFFSETS_TO_TXN: {"transactional_id": "x", "producer_id": 1, "producer_epoch": 0,
                           "group_id": "g"},
    K.END_TXN: {"transactional_id": "x", "producer_id": 1, "producer_epoch": 0,
                "committed": True},
    K.WRITE_TXN_MARKERS: {"markers": [{"producer_id": 1, "producer_epoch": 0,
                                       "transaction_result": True, "coordinator_epoch": 0,
                                       "topics": [{"name": "t", "partition_indexes": [0]}]}]},
    K.TXN_OFFSET_COMMIT: {"transactional_id": "x", "group_id": "g", "producer_id": 1,
                          "producer_epoch": 0, "topics": [
                              {"name": "t", "partitions": [{"partition_index": 0,
                                                            "committed_offset": 1,
                                                            "committed_metadata": None}]}]},
    K.DESCRIBE_TRANSACTIONS: {"transactional_ids": ["x"]},
    K.LIST_TRANSACTIONS: {},
    K.SASL_HANDSHAKE: {"mechanism": "PLAIN"},
    K.SASL_AUTHENTICATE: {"auth_bytes": b"\0u\0p"},
    K.DESCRIBE_USER_SCRAM_CREDENTIALS: {"users": [{"name": "u"}]},
    K.ALTER_USER_SCRAM_CREDENTIALS: {"deletions": [{"name": "u", "mechanism": 1}],
                                     "upsertions": []},
    K.DESCRIBE_CLIENT_QUOTAS: {"components": [{"entity_type": "user", "match_type": 1,
                                               "match": None}], "strict": False},
    K.ALTER_CLIENT_QUOTAS: {"entries": [{"entity": [{"entity_type": "user", "entity_name": "u"}],
                                         "ops": [{"key": "producer_byte_rate", "value": 1.0,
                                                  "remove": False}]}], "validate_only": True},
}


@pytest.fixture
def core(tmp_path: Path) -> Any:
    config = BrokerConfig.load(env={}, overrides={"data_dir": str(tmp_path)})
    broker = BrokerCore(config)
    broker.start()
    yield broker
    broker.shutdown()


def _frame(key: ApiKey, version: int, body: dict[str, Any]) -> bytes:
    return join_parts(encode_request(RequestHeader(key, version, 42, "unit"), body))


def _codes(value: Any) -> list[int]:
    """Every error_code in a decoded response, depth first."""
    found: list[int] = []
    if isinstance(value, list):
        for item in value:
            found += _codes(item)
    elif hasattr(value, "__dict__"):
        for name, item in vars(value).items():
            if name in ("error_code", "partition_error_code"):  # the latter: AddPartitionsToTxn
                found.append(item)
            else:
                found += _codes(item)
    return found


def test_samples_cover_every_served_api() -> None:
    assert set(SAMPLES) == set(HANDLERS)


@pytest.mark.parametrize("key", sorted(HANDLERS), ids=lambda k: ApiKey(k).name)
def test_a_failing_handler_is_answered_with_an_error_at_every_version(
    core: BrokerCore, key: ApiKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setitem(HANDLERS, key, Handler(broken, HANDLERS[key].fallback))
    dispatcher = Dispatcher(core)
    lo, hi = SUPPORTED_VERSIONS[key]
    for version in range(lo, hi + 1):
        parts = asyncio.run(dispatcher.dispatch(_frame(key, version, SAMPLES[key])))
        assert parts is not None
        header, body = decode_response(key, version, join_parts(parts))
        assert header.correlation_id == 42
        codes = _codes(body)
        # A top-level error_code that an older version does not carry decodes as 0.
        assert ErrorCode.UNKNOWN_SERVER_ERROR in codes, (version, body)
        assert set(codes) <= {0, ErrorCode.UNKNOWN_SERVER_ERROR}, (version, body)
        assert codes[-1] == ErrorCode.UNKNOWN_SERVER_ERROR  # the innermost entry has it


def test_unserved_and_malformed_requests_close_the_connection(core: BrokerCore) -> None:
    dispatcher = Dispatcher(core)
    sasl_handshake = bytes.fromhex("0011 0000 00000001 0000")
    for frame in (sasl_handshake, b"\x00\x03", bytes.fromhex("0003 0063 00000001 0000"),
                  bytes.fromhex("7fff 0000 00000001 0000")):
        with pytest.raises(CloseConnection):
            asyncio.run(dispatcher.dispatch(frame))


def test_unsupported_api_versions_version_gets_the_v0_downgrade(core: BrokerCore) -> None:
    frame = bytes.fromhex("0012 0063 00000005 0000 00 00")
    parts = asyncio.run(Dispatcher(core).dispatch(frame))
    assert parts is not None
    _, body = decode_response(K.API_VERSIONS, 0, join_parts(parts))
    assert body.error_code == ErrorCode.UNSUPPORTED_VERSION
    assert [(e.api_key, e.min_version, e.max_version) for e in body.api_keys] == [
        (K.API_VERSIONS, *SUPPORTED_VERSIONS[K.API_VERSIONS])]


def test_acks_0_produce_has_no_response(core: BrokerCore) -> None:
    body = dict(SAMPLES[K.PRODUCE], acks=0)
    assert asyncio.run(Dispatcher(core).dispatch(_frame(K.PRODUCE, 7, body))) is None
