"""Schemas: Fetch (1), ListOffsets (2), OffsetForLeaderEpoch (23)."""

from tidelog.protocol.schema import api, f

#: Tag of tidelog's own tagged field in replica fetches: the offset below which the follower
#: has fdatasync'd its log (Kafka has no such field: its followers are acknowledged from the
#: page cache). Readers skip tags they do not know; a tag this high leaves Kafka's future
#: tags free.
DURABLE_OFFSET_TAG = 10100

FETCH = api(
    1, "Fetch", flexible="12+",
    request=[
        f("cluster_id", "string", "12+", nullable="12+", tag=0, default=None),
        f("replica_id", "int32", "0-14", default=-1),
        f("replica_state", (
            f("replica_id", "int32", default=-1),
            f("replica_epoch", "int64", default=-1),
        ), "15+", tag=1),
        f("max_wait_ms", "int32"),
        f("min_bytes", "int32"),
        f("max_bytes", "int32", "3+", default=0x7FFFFFFF),
        f("isolation_level", "int8", "4+"),
        f("session_id", "int32", "7+"),
        f("session_epoch", "int32", "7+", default=-1),
        f("topics", [
            f("topic", "string", "0-12"),
            f("topic_id", "uuid", "13+"),
            f("partitions", [
                f("partition", "int32"),
                f("current_leader_epoch", "int32", "9+", default=-1),
                f("fetch_offset", "int64"),
                f("last_fetched_epoch", "int32", "12+", default=-1),
                f("log_start_offset", "int64", "5+", default=-1),
                f("partition_max_bytes", "int32"),
                f("replica_directory_id", "uuid", "17+", tag=0),
                f("high_watermark", "int64", "18+", tag=1, default=(1 << 63) - 1),
                f("durable_offset", "int64", "12+", tag=DURABLE_OFFSET_TAG, default=-1),
            ]),
        ]),
        f("forgotten_topics_data", [
            f("topic", "string", "7-12"),
            f("topic_id", "uuid", "13+"),
            f("partitions", "[]int32"),
        ], "7+"),
        f("rack_id", "string", "11+"),
    ],
    response=[
        f("throttle_time_ms", "int32", "1+"),
        f("error_code", "int16", "7+"),
        f("session_id", "int32", "7+"),
        f("responses", [
            f("topic", "string", "0-12"),
            f("topic_id", "uuid", "13+"),
            f("partitions", [
                f("partition_index", "int32"),
                f("error_code", "int16"),
                f("high_watermark", "int64"),
                f("last_stable_offset", "int64", "4+", default=-1),
                f("log_start_offset", "int64", "5+", default=-1),
                f("diverging_epoch", (
                    f("epoch", "int32", default=-1),
                    f("end_offset", "int64", default=-1),
                ), "12+", tag=0),
                f("current_leader", (
                    f("leader_id", "int32", default=-1),
                    f("leader_epoch", "int32", default=-1),
                ), "12+", tag=1),
                f("snapshot_id", (
                    f("end_offset", "int64", default=-1),
                    f("epoch", "int32", default=-1),
                ), "12+", tag=2),
                f("aborted_transactions", [
                    f("producer_id", "int64"),
                    f("first_offset", "int64"),
                ], "4+", nullable="4+"),
                f("preferred_read_replica", "int32", "11+", default=-1),
                f("records", "records", nullable="0+"),
            ]),
        ]),
        f("node_endpoints", [
            f("node_id", "int32"),
            f("host", "string"),
            f("port", "int32"),
            f("rack", "string", nullable="0+", default=None),
        ], "16+", tag=0),
    ],
)

LIST_OFFSETS = api(
    2, "ListOffsets", flexible="6+",
    request=[
        f("replica_id", "int32"),
        f("isolation_level", "int8", "2+"),
        f("topics", [
            f("name", "string"),
            f("partitions", [
                f("partition_index", "int32"),
                f("current_leader_epoch", "int32", "4+", default=-1),
                f("timestamp", "int64"),
                f("max_num_offsets", "int32", "0", default=1),
            ]),
        ]),
        f("timeout_ms", "int32", "10+"),
    ],
    response=[
        f("throttle_time_ms", "int32", "2+"),
        f("topics", [
            f("name", "string"),
            f("partitions", [
                f("partition_index", "int32"),
                f("error_code", "int16"),
                # v0 answers a list of offsets (at most max_num_offsets), newest first
                f("old_style_offsets", "[]int64", "0"),
                f("timestamp", "int64", "1+", default=-1),
                f("offset", "int64", "1+", default=-1),
                f("leader_epoch", "int32", "4+", default=-1),
            ]),
        ]),
    ],
)

OFFSET_FOR_LEADER_EPOCH = api(
    23, "OffsetForLeaderEpoch", flexible="4+",
    request=[
        f("replica_id", "int32", "3+", default=-2),
        f("topics", [
            f("topic", "string"),
            f("partitions", [
                f("partition", "int32"),
                f("current_leader_epoch", "int32", "2+", default=-1),
                f("leader_epoch", "int32"),
            ]),
        ]),
    ],
    response=[
        f("throttle_time_ms", "int32", "2+"),
        f("topics", [
            f("topic", "string"),
            f("partitions", [
                f("error_code", "int16"),
                f("partition", "int32"),
                f("leader_epoch", "int32", "1+", default=-1),
                f("end_offset", "int64", default=-1),
            ]),
        ]),
    ],
)

APIS = (FETCH, LIST_OFFSETS, OFFSET_FOR_LEADER_EPOCH)
