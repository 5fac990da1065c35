"""The PLAINTEXT ``listen`` address is no way around the authorizer: its clients are
User:ANONYMOUS (Kafka's rule for a PLAINTEXT listener), so with ``authorizer = "standard"`` and
no ACL for ANONYMOUS they may create, list, describe, produce and manage users and ACLs on
nothing. One broker for the module (single node, loopback: no start-up warning expected)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kafka_wire import WireClient, batch, produce_body
from logd_harness import Logd
from tidelog.protocol import ApiKey, ErrorCode

K = ApiKey


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logd]:
    broker = Logd(tmp_path_factory.mktemp("plain-authz"),
                  "--listeners", "SASL_PLAINTEXT://127.0.0.1:0",
                  env={"TIDELOG_AUTHORIZER": "standard",
                       "TIDELOG_SUPER_USERS": "User:admin"}).start()
    try:
        yield broker
        assert broker.stop() == 0, broker.log()
    finally:
        broker.kill()


def test_anonymous_on_the_plain_listener_is_refused(secured: Logd) -> None:
    with WireClient(secured.bootstrap) as c:
        made = c.request(K.CREATE_TOPICS, 4, {"topics": [{
            "name": "plain-t", "num_partitions": 1, "replication_factor": 1}],
            "timeout_ms": 1000})
        assert made.topics[0].error_code == ErrorCode.TOPIC_AUTHORIZATION_FAILED
        listed = c.request(K.METADATA, 4, {"topics": None, "allow_auto_topic_creation": True})
        assert listed.topics == []
        named = c.request(K.METADATA, 4, {"topics": [{"name": "plain-t"}],
                                         "allow_auto_topic_creation": True})
        assert [t.error_code for t in named.topics] == [ErrorCode.TOPIC_AUTHORIZATION_FAILED]
        produced = c.request(K.PRODUCE, 7, produce_body("plain-t", batch([b"x"])))
        assert (produced.responses[0].partition_responses[0].error_code
                == ErrorCode.TOPIC_AUTHORIZATION_FAILED)
        users = c.request(K.ALTER_USER_SCRAM_CREDENTIALS, 0, {
            "deletions": [], "upsertions": [{
                "name": "mallory", "mechanism": 1, "iterations": 4096,
                "salt": b"s" * 16, "salted_password": b"p" * 32}]})
        assert [r.error_code for r in users.results] == [ErrorCode.CLUSTER_AUTHORIZATION_FAILED]
        acls = c.request(K.DESCRIBE_ACLS, 1, {
            "resource_type_filter": 1, "resource_name_filter": None,
            "pattern_type_filter": 1, "principal_filter": None, "host_filter": None,
            "operation": 1, "permission_type": 1})
        assert acls.error_code == ErrorCode.CLUSTER_AUTHORIZATION_FAILED
    assert not list(secured.data_dir.glob("plain-t-*"))  # refused, not made behind the answer
    # A single loopback node: nothing to warn about.
    assert "PLAINTEXT listen address" not in secured.log()

