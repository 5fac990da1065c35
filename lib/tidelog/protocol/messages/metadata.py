"""Schemas: ApiVersions (18), Metadata (3), DescribeCluster (60), DescribeTopicPartitions (75)."""

from tidelog.protocol.schema import api, f

API_VERSIONS = api(
    18, "ApiVersions", flexible="3+",
    request=[
        f("client_software_name", "string", "3+"),
        f("client_software_version", "string", "3+"),
    ],
    response=[
        f("error_code", "int16"),
        f("api_keys", [
            f("api_key", "int16"),
            f("min_version", "int16"),
            f("max_version", "int16"),
        ]),
        f("throttle_time_ms", "int32", "1+"),
        f("supported_features", [
            f("name", "string", "3+"),
            f("min_version", "int16", "3+"),
            f("max_version", "int16", "3+"),
        ], "3+", tag=0),
        f("finalized_features_epoch", "int64", "3+", tag=1, default=-1),
        f("finalized_features", [
            f("name", "string", "3+"),
            f("max_version_level", "int16", "3+"),
            f("min_version_level", "int16", "3+"),
        ], "3+", tag=2),
        f("zk_migration_ready", "bool", "3+", tag=3),
    ],
)

_NO_AUTHORIZED_OPERATIONS = -(1 << 31)

METADATA = api(
    3, "Metadata", flexible="9+",
    request=[
        # v0: an empty array means "all topics"; v1+: null means all, empty means none.
        f("topics", [
            f("topic_id", "uuid", "10+"),
            f("name", "string", nullable="10+"),
        ], nullable="1+"),
        f("allow_auto_topic_creation", "bool", "4+", default=True),
        f("include_cluster_authorized_operations", "bool", "8-10"),
        f("include_topic_authorized_operations", "bool", "8+"),
    ],
    response=[
        f("throttle_time_ms", "int32", "3+"),
        f("brokers", [
            f("node_id", "int32"),
            f("host", "string"),
            f("port", "int32"),
            f("rack", "string", "1+", nullable="1+", default=None),
        ]),
        f("cluster_id", "string", "2+", nullable="2+", default=None),
        f("controller_id", "int32", "1+", default=-1),
        f("topics", [
            f("error_code", "int16"),
            f("name", "string", nullable="12+"),
            f("topic_id", "uuid", "10+"),
            f("is_internal", "bool", "1+"),
            f("partitions", [
                f("error_code", "int16"),
                f("partition_index", "int32"),
                f("leader_id", "int32"),
                f("leader_epoch", "int32", "7+", default=-1),
                f("replica_nodes", "[]int32"),
                f("isr_nodes", "[]int32"),
                f("offline_replicas", "[]int32", "5+"),
            ]),
            f("topic_authorized_operations", "int32", "8+", default=_NO_AUTHORIZED_OPERATIONS),
        ]),
        f("cluster_authorized_operations", "int32", "8-10", default=_NO_AUTHORIZED_OPERATIONS),
        f("error_code", "int16", "13+"),
    ],
)

DESCRIBE_CLUSTER = api(
    60, "DescribeCluster", flexible="0+",
    request=[
        f("include_cluster_authorized_operations", "bool"),
        f("endpoint_type", "int8", "1+", default=1),
        f("include_fenced_brokers", "bool", "2+"),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("error_code", "int16"),
        f("error_message", "string", nullable="0+", default=None),
        f("endpoint_type", "int8", "1+", default=1),
        f("cluster_id", "string"),
        f("controller_id", "int32", default=-1),
        f("brokers", [
            f("broker_id", "int32"),
            f("host", "string"),
            f("port", "int32"),
            f("rack", "string", nullable="0+", default=None),
            f("is_fenced", "bool", "2+"),
        ]),
        f("cluster_authorized_operations", "int32", default=_NO_AUTHORIZED_OPERATIONS),
    ],
)

_CURSOR = (
    f("topic_name", "string"),
    f("partition_index", "int32"),
)

# KIP-966's paginated topic description (Kafka 3.7+; kafka-topics.sh --describe uses it).
DESCRIBE_TOPIC_PARTITIONS = api(
    75, "DescribeTopicPartitions", flexible="0+",
    request=[
        f("topics", [f("name", "string")]),
        f("response_partition_limit", "int32", default=2000),
        f("cursor", _CURSOR, nullable="0+", default=None),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("topics", [
            f("error_code", "int16"),
            f("name", "string", nullable="0+"),
            f("topic_id", "uuid"),
            f("is_internal", "bool"),
            f("partitions", [
                f("error_code", "int16"),
                f("partition_index", "int32"),
                f("leader_id", "int32"),
                f("leader_epoch", "int32", default=-1),
                f("replica_nodes", "[]int32"),
                f("isr_nodes", "[]int32"),
                f("eligible_leader_replicas", "[]int32", nullable="0+", default=None),
                f("last_known_elr", "[]int32", nullable="0+", default=None),
                f("offline_replicas", "[]int32"),
            ]),
            f("topic_authorized_operations", "int32", default=_NO_AUTHORIZED_OPERATIONS),
        ]),
        f("next_cursor", _CURSOR, nullable="0+", default=None),
    ],
)

APIS = (API_VERSIONS, METADATA, DESCRIBE_CLUSTER, DESCRIBE_TOPIC_PARTITIONS)
