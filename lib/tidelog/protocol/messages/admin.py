"""Schemas: CreateTopics (19), DeleteTopics (20), CreatePartitions (37), DescribeConfigs (32),
AlterConfigs (33), IncrementalAlterConfigs (44), DeleteRecords (21), DescribeLogDirs (35)."""

from tidelog.protocol.schema import api, f

CREATE_TOPICS = api(
    19, "CreateTopics", flexible="5+",
    request=[
        f("topics", [
            f("name", "string"),
            f("num_partitions", "int32"),
            f("replication_factor", "int16"),
            f("assignments", [
                f("partition_index", "int32"),
                f("broker_ids", "[]int32"),
            ]),
            f("configs", [
                f("name", "string"),
                f("value", "string", nullable="0+"),
            ]),
        ]),
        f("timeout_ms", "int32", default=60000),
        f("validate_only", "bool", "1+"),
    ],
    response=[
        f("throttle_time_ms", "int32", "2+"),
        f("topics", [
            f("name", "string"),
            f("topic_id", "uuid", "7+"),
            f("error_code", "int16"),
            f("error_message", "string", "1+", nullable="0+"),
            f("topic_config_error_code", "int16", "5+", tag=0),
            f("num_partitions", "int32", "5+", default=-1),
            f("replication_factor", "int16", "5+", default=-1),
            f("configs", [
                f("name", "string"),
                f("value", "string", nullable="0+"),
                f("read_only", "bool"),
                f("config_source", "int8", default=-1),
                f("is_sensitive", "bool"),
            ], "5+", nullable="5+"),
        ]),
    ],
)

DELETE_TOPICS = api(
    20, "DeleteTopics", flexible="4+",
    request=[
        f("topics", [
            f("name", "string", nullable="6+", default=None),
            f("topic_id", "uuid"),
        ], "6+"),
        f("topic_names", "[]string", "0-5"),
        f("timeout_ms", "int32"),
    ],
    response=[
        f("throttle_time_ms", "int32", "1+"),
        f("responses", [
            f("name", "string", nullable="6+"),
            f("topic_id", "uuid", "6+"),
            f("error_code", "int16"),
            f("error_message", "string", "5+", nullable="5+", default=None),
        ]),
    ],
)

CREATE_PARTITIONS = api(
    37, "CreatePartitions", flexible="2+",
    request=[
        f("topics", [
            f("name", "string"),
            f("count", "int32"),
            f("assignments", [f("broker_ids", "[]int32")], nullable="0+"),
        ]),
        f("timeout_ms", "int32"),
        f("validate_only", "bool"),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("results", [
            f("name", "string"),
            f("error_code", "int16"),
            f("error_message", "string", nullable="0+", default=None),
        ]),
    ],
)

DESCRIBE_CONFIGS = api(
    32, "DescribeConfigs", flexible="4+",
    request=[
        f("resources", [
            f("resource_type", "int8"),
            f("resource_name", "string"),
            f("configuration_keys", "[]string", nullable="0+"),
        ]),
        f("include_synonyms", "bool", "1+"),
        f("include_documentation", "bool", "3+"),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("results", [
            f("error_code", "int16"),
            f("error_message", "string", nullable="0+"),
            f("resource_type", "int8"),
            f("resource_name", "string"),
            f("configs", [
                f("name", "string"),
                f("value", "string", nullable="0+"),
                f("read_only", "bool"),
                f("config_source", "int8", "1+", default=-1),
                f("is_sensitive", "bool"),
                f("synonyms", [
                    f("name", "string"),
                    f("value", "string", nullable="0+"),
                    f("source", "int8"),
                ], "1+"),
                f("config_type", "int8", "3+"),
                f("documentation", "string", "3+", nullable="0+"),
            ]),
        ]),
    ],
)

INCREMENTAL_ALTER_CONFIGS = api(
    44, "IncrementalAlterConfigs", flexible="1+",
    request=[
        f("resources", [
            f("resource_type", "int8"),
            f("resource_name", "string"),
            f("configs", [
                f("name", "string"),
                f("config_operation", "int8"),
                f("value", "string", nullable="0+"),
            ]),
        ]),
        f("validate_only", "bool"),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("responses", [
            f("error_code", "int16"),
            f("error_message", "string", nullable="0+"),
            f("resource_type", "int8"),
            f("resource_name", "string"),
        ]),
    ],
)

#: Tags of tidelog's own tagged fields in DescribeLogDirs partitions: the log cleaner's view.
#: Kafka has no wire API for it; tagged fields are skipped by readers that do not know them,
#: and tags this high leave Kafka's future tags free.
CLEANER_TAG_BASE = 10000

# The legacy, non-incremental form: each resource's configs are replaced as a whole (kafkajs
# alters configs only through this one).
ALTER_CONFIGS = api(
    33, "AlterConfigs", flexible="2+",
    request=[
        f("resources", [
            f("resource_type", "int8"),
            f("resource_name", "string"),
            f("configs", [
                f("name", "string"),
                f("value", "string", nullable="0+"),
            ]),
        ]),
        f("validate_only", "bool"),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("responses", [
            f("error_code", "int16"),
            f("error_message", "string", nullable="0+", default=None),
            f("resource_type", "int8"),
            f("resource_name", "string"),
        ]),
    ],
)

DELETE_RECORDS = api(
    21, "DeleteRecords", flexible="2+",
    request=[
        f("topics", [
            f("name", "string"),
            f("partitions", [
                f("partition_index", "int32"),
                f("offset", "int64"),
            ]),
        ]),
        f("timeout_ms", "int32"),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("topics", [
            f("name", "string"),
            f("partitions", [
                f("partition_index", "int32"),
                f("low_watermark", "int64", default=-1),
                f("error_code", "int16"),
            ]),
        ]),
    ],
)

DESCRIBE_LOG_DIRS = api(
    35, "DescribeLogDirs", flexible="2+",
    request=[
        # null: every partition of every log dir
        f("topics", [
            f("topic", "string"),
            f("partitions", "[]int32"),
        ], nullable="0+"),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("error_code", "int16", "3+"),
        f("results", [
            f("error_code", "int16"),
            f("log_dir", "string"),
            f("topics", [
                f("name", "string"),
                f("partitions", [
                    f("partition_index", "int32"),
                    f("partition_size", "int64"),
                    f("offset_lag", "int64"),
                    f("is_future_key", "bool"),
                    f("cleaner_dirty_ratio", "float64", "2+", tag=CLEANER_TAG_BASE,
                      default=-1.0),
                    f("cleaner_first_dirty_offset", "int64", "2+", tag=CLEANER_TAG_BASE + 1,
                      default=-1),
                    f("cleaner_last_cleaned_ms", "int64", "2+", tag=CLEANER_TAG_BASE + 2,
                      default=-1),
                    f("cleaner_error", "string", "2+", tag=CLEANER_TAG_BASE + 3,
                      nullable="2+", default=None),
                ]),
            ]),
            f("total_bytes", "int64", "4+", default=-1),
            f("usable_bytes", "int64", "4+", default=-1),
        ]),
    ],
)

APIS = (CREATE_TOPICS, DELETE_TOPICS, CREATE_PARTITIONS, DESCRIBE_CONFIGS, ALTER_CONFIGS,
        INCREMENTAL_ALTER_CONFIGS, DELETE_RECORDS, DESCRIBE_LOG_DIRS)
