"""What logd's ApiVersions answer offers, as kafka-python reads it."""

from __future__ import annotations

from kafka.protocol.broker_version_data import infer_broker_version_from_api_versions
from tidelog.broker.handlers import HANDLERS
from tidelog.broker.handlers.cluster import _ADVERTISED
from tidelog.protocol import ApiKey


def _offered() -> dict[int, tuple[int, int]]:
    return {e.api_key: (e.min_version, e.max_version) for e in _ADVERTISED}


def test_every_advertised_api_has_a_handler_and_old_versions_are_offered() -> None:
    offered = _offered()
    assert set(offered) == {int(k) for k in HANDLERS}
    assert offered[ApiKey.PRODUCE][0] == 0 and offered[ApiKey.LIST_OFFSETS][0] == 0
    for key in (ApiKey.DESCRIBE_ACLS, ApiKey.CREATE_ACLS, ApiKey.DELETE_ACLS):
        assert offered[key] == (1, 3)  # Kafka 4.0's range
    for key in (ApiKey.ALTER_CONFIGS, ApiKey.DELETE_RECORDS, ApiKey.DESCRIBE_LOG_DIRS,
                ApiKey.DESCRIBE_TOPIC_PARTITIONS):
        assert key in offered
    assert offered[ApiKey.DESCRIBE_QUORUM] == (0, 2)


def test_kafka_python_does_not_take_logd_for_a_newer_kafka() -> None:
    # kafka-python 3.0.12 picks features by the broker version it infers from this answer.
    # ListOffsets v11 reads as Kafka 4.2; DescribeLogDirs v5 would read as 4.3, so it stops
    # at 4, and nothing added for old tools (Produce 0, ListOffsets 0) changes the guess.
    assert infer_broker_version_from_api_versions(_offered()) == (4, 2)
