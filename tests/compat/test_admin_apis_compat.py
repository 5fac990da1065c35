"""Admin APIs real clients and tools call (issue 9, "Protocol"), each with the client named:
ACLs and authorized operations without an authorizer (confluent-kafka, kafka-python), the
broker's advertised.listeners, AlterConfigs (33), DeleteRecords (21), DescribeLogDirs (35),
DescribeTopicPartitions (75), DescribeQuorum v2, ListOffsets v0 and Produce v0-2."""

from __future__ import annotations

import confluent_kafka as ck
import kafka
import kafka.errors as kerrors
import pytest
from compat_common import TIMEOUT
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ConfigResource,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)
from kafka.admin import (
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    KafkaAdminClient,
    ResourcePattern,
)
from kafka.admin import ResourceType as KpResourceType
from kafka_wire import WireClient, batch, produce_body
from logd_harness import Logd
from tidelog.protocol import ApiKey


def _admin(logd: Logd) -> AdminClient:
    return AdminClient({"bootstrap.servers": logd.bootstrap})


def _topic(logd: Logd, name: str, partitions: int = 1, records: int = 0) -> None:
    admin = _admin(logd)
    admin.create_topics([NewTopic(name, num_partitions=partitions)])[name].result(TIMEOUT)
    if records:
        producer = ck.Producer({"bootstrap.servers": logd.bootstrap})
        for i in range(records):
            producer.produce(name, value=b"r%d" % i, partition=0)
        assert producer.flush(TIMEOUT) == 0


# -- ACLs and authorized operations -----------------------------------------------------------


def test_confluent_kafka_acl_calls_answer_security_disabled(shared_logd: Logd) -> None:
    admin = _admin(shared_logd)
    binding = AclBinding(ResourceType.TOPIC, "t", ResourcePatternType.LITERAL, "User:alice",
                         "*", AclOperation.READ, AclPermissionType.ALLOW)
    everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                                  AclOperation.ANY, AclPermissionType.ANY)
    for future in (admin.create_acls([binding])[binding],
                   admin.delete_acls([everything])[everything]):
        with pytest.raises(ck.KafkaException) as info:
            future.result(TIMEOUT)
        assert info.value.args[0].code() == ck.KafkaError.SECURITY_DISABLED
    # librdkafka 2.16 does not surface DescribeAcls' top-level error code (the kafka-python
    # test below sees SECURITY_DISABLED there); it reports no bindings.
    assert admin.describe_acls(everything).result(TIMEOUT) == []


def test_kafka_python_describe_acls_is_security_disabled(shared_logd: Logd) -> None:
    admin = KafkaAdminClient(bootstrap_servers=shared_logd.bootstrap)
    try:
        with pytest.raises(kerrors.SecurityDisabledError):
            admin.describe_acls(ACLFilter(
                principal=None, host="*", operation=ACLOperation.ANY,
                permission_type=ACLPermissionType.ANY,
                resource_pattern=ResourcePattern(KpResourceType.TOPIC, "t",
                                                 ACLResourcePatternType.LITERAL)))
    finally:
        admin.close()


def test_confluent_kafka_authorized_operations_are_all(shared_logd: Logd) -> None:
    # Without an authorizer Kafka reports every operation as allowed: 8 for a topic,
    # 7 for the cluster, 3 for a group.
    _topic(shared_logd, "authz")
    admin = _admin(shared_logd)
    topics = admin.describe_topics(ck.TopicCollection(["authz"]),
                                   include_authorized_operations=True)
    ops = {op.name for op in topics["authz"].result(TIMEOUT).authorized_operations}
    assert ops == {"READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE",
                   "DESCRIBE_CONFIGS", "ALTER_CONFIGS"}
    cluster = admin.describe_cluster(include_authorized_operations=True).result(TIMEOUT)
    assert {op.name for op in cluster.authorized_operations} == {
        "CREATE", "ALTER", "DESCRIBE", "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS",
        "IDEMPOTENT_WRITE"}
    consumer = ck.Consumer({"bootstrap.servers": shared_logd.bootstrap, "group.id": "authz-g"})
    try:
        consumer.subscribe(["authz"])
        consumer.poll(1.0)
        groups = admin.describe_consumer_groups(["authz-g"], include_authorized_operations=True)
        described = groups["authz-g"].result(TIMEOUT)
    finally:
        consumer.close()
    assert {op.name for op in described.authorized_operations} == {"READ", "DELETE", "DESCRIBE"}


def test_confluent_kafka_broker_configs_include_advertised_listeners(shared_logd: Logd) -> None:
    admin = _admin(shared_logd)
    resource = ConfigResource(ConfigResource.Type.BROKER, "1")
    configs = admin.describe_configs([resource])[resource].result(TIMEOUT)
    assert configs["advertised.listeners"].value == f"PLAINTEXT://{shared_logd.bootstrap}"


# -- AlterConfigs, DeleteRecords, DescribeLogDirs, DescribeTopicPartitions, DescribeQuorum ----


def _topic_configs(admin: AdminClient, topic: str) -> dict[str, str | None]:
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([resource])[resource].result(TIMEOUT)
    return {name: e.value for name, e in entries.items() if not e.is_default}


def test_confluent_kafka_legacy_alter_configs_replaces_the_whole_set(shared_logd: Logd) -> None:
    # AlterConfigs (33), the only way kafkajs alters configs: configs left out go back to
    # their defaults, as in Kafka.
    _topic(shared_logd, "alter-legacy")
    admin = _admin(shared_logd)
    resource = ConfigResource(ConfigResource.Type.TOPIC, "alter-legacy",
                              set_config={"retention.ms": "123456", "cleanup.policy": "compact"})
    admin.alter_configs([resource])[resource].result(TIMEOUT)
    assert _topic_configs(admin, "alter-legacy") == {
        "retention.ms": "123456", "cleanup.policy": "compact"}
    resource = ConfigResource(ConfigResource.Type.TOPIC, "alter-legacy",
                              set_config={"retention.ms": "654321"})
    admin.alter_configs([resource])[resource].result(TIMEOUT)
    assert _topic_configs(admin, "alter-legacy") == {"retention.ms": "654321"}
    bad = ConfigResource(ConfigResource.Type.TOPIC, "alter-legacy",
                         set_config={"retention.ms": "soon"})
    with pytest.raises(ck.KafkaException) as info:
        admin.alter_configs([bad])[bad].result(TIMEOUT)
    assert info.value.args[0].code() == ck.KafkaError.INVALID_CONFIG
    assert _topic_configs(admin, "alter-legacy") == {"retention.ms": "654321"}


def test_confluent_kafka_delete_records_moves_the_log_start(shared_logd: Logd) -> None:
    _topic(shared_logd, "del-records", records=5)
    admin = _admin(shared_logd)
    tp = ck.TopicPartition("del-records", 0, 3)
    [deleted] = admin.delete_records([tp]).values()
    assert deleted.result(TIMEOUT).low_watermark == 3
    consumer = ck.Consumer({"bootstrap.servers": shared_logd.bootstrap, "group.id": "dr"})
    try:
        low, high = consumer.get_watermark_offsets(ck.TopicPartition("del-records", 0),
                                                   timeout=TIMEOUT)
    finally:
        consumer.close()
    assert (low, high) == (3, 5)
    beyond = ck.TopicPartition("del-records", 0, 99)
    with pytest.raises(ck.KafkaException) as info:
        next(iter(admin.delete_records([beyond]).values())).result(TIMEOUT)
    assert info.value.args[0].code() == ck.KafkaError.OFFSET_OUT_OF_RANGE


def test_kafka_python_delete_records_to_the_high_watermark(shared_logd: Logd) -> None:
    _topic(shared_logd, "del-hw", records=4)
    admin = KafkaAdminClient(bootstrap_servers=shared_logd.bootstrap)
    try:
        tp = kafka.TopicPartition("del-hw", 0)
        result = admin.delete_records({tp: -1})
        assert result[tp]["low_watermark"] == 4
    finally:
        admin.close()


def test_kafka_python_describe_log_dirs(shared_logd: Logd) -> None:
    _topic(shared_logd, "log-dirs", records=3)
    admin = KafkaAdminClient(bootstrap_servers=shared_logd.bootstrap)
    try:
        [broker] = admin.describe_log_dirs()
    finally:
        admin.close()
    [result] = broker["log_dirs"]
    assert result["error_code"] == 0 and result["total_bytes"] >= result["usable_bytes"] > 0
    sizes = {(t["name"], p["partition_index"]): p["partition_size"]
             for t in result["topics"] for p in t["partitions"]}
    assert sizes[("log-dirs", 0)] > 0


def test_kafka_python_describe_topic_partitions_pages(shared_logd: Logd) -> None:
    _topic(shared_logd, "dtp-a", partitions=3)
    _topic(shared_logd, "dtp-b", partitions=2)
    admin = KafkaAdminClient(bootstrap_servers=shared_logd.bootstrap)
    try:
        seen: list[tuple[str, int]] = []
        cursor = None
        for _ in range(10):
            page = admin.describe_topic_partitions(["dtp-b", "dtp-a", "dtp-none"],
                                                   response_partition_limit=2, cursor=cursor)
            for t in page["topics"]:
                if t["name"] == "dtp-none":
                    assert t["error_code"] == kerrors.UnknownTopicOrPartitionError.errno
                    continue
                assert t["error_code"] == 0
                seen += [(t["name"], p["partition_index"]) for p in t["partitions"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    finally:
        admin.close()
    assert seen == [("dtp-a", 0), ("dtp-a", 1), ("dtp-a", 2), ("dtp-b", 0), ("dtp-b", 1)]


def test_kafka_python_describe_metadata_quorum_v2(shared_logd: Logd) -> None:
    admin = KafkaAdminClient(bootstrap_servers=shared_logd.bootstrap)
    try:
        quorum = admin.describe_metadata_quorum()
    finally:
        admin.close()
    [partition] = quorum["topics"][0]["partitions"]
    assert partition["leader_id"] == 1 and partition["error"] is None
    assert [v["replica_id"] for v in partition["current_voters"]] == [1]
    [node] = quorum["nodes"]  # v2 (KIP-853): the voters' endpoints
    assert node["node_id"] == 1
    port = int(shared_logd.bootstrap.rsplit(":", 1)[1])
    assert [(x["host"], x["port"]) for x in node["listeners"]] == [("127.0.0.1", port)]


# -- old versions: ListOffsets v0, Produce v0-2 -------------------------------------------------


def test_kafka_python_as_kafka_0_10_lists_offsets_v0_and_is_refused_magic_1(
    shared_logd: Logd,
) -> None:
    # api_version=(0, 10, 0) makes kafka-python speak as to Kafka 0.10: ListOffsets v0 (as
    # Burrow 1.2.1 does) and Produce v2 carrying a magic 1 message set, which logd refuses
    # with a non-retriable error instead of a retried CORRUPT_MESSAGE.
    _topic(shared_logd, "old-0-10", records=3)
    tp = kafka.TopicPartition("old-0-10", 0)
    consumer = kafka.KafkaConsumer(bootstrap_servers=shared_logd.bootstrap,
                                   api_version=(0, 10, 0))
    try:
        assert consumer.end_offsets([tp]) == {tp: 3}
        assert consumer.beginning_offsets([tp]) == {tp: 0}
    finally:
        consumer.close()
    producer = kafka.KafkaProducer(bootstrap_servers=shared_logd.bootstrap,
                                   api_version=(0, 10, 0))
    try:
        with pytest.raises(kerrors.UnsupportedForMessageFormatError):
            producer.send("old-0-10", b"old format").get(TIMEOUT)
    finally:
        producer.close(TIMEOUT)


@pytest.mark.parametrize("version", [0, 1, 2])
def test_produce_v0_to_v2_with_record_batches_is_accepted(shared_logd: Logd,
                                                          version: int) -> None:
    # Kafka 3.x accepts magic 2 batches in Produce v0-2 (it checks the magic only from v3).
    topic = f"produce-v{version}"
    _topic(shared_logd, topic)
    with WireClient(shared_logd.bootstrap) as c:
        answer = c.request(ApiKey.PRODUCE, version, produce_body(topic, batch([b"a", b"b"])))
        [part] = answer.responses[0].partition_responses
        assert (part.error_code, part.base_offset) == (0, 0)
        listed = c.request(ApiKey.LIST_OFFSETS, 0, {"replica_id": -1, "topics": [
            {"name": topic, "partitions": [
                {"partition_index": 0, "timestamp": -1, "max_num_offsets": 1}]}]})
    assert listed.topics[0].partitions[0].old_style_offsets == [2]
