"""Schemas of the consumer-group APIs: FindCoordinator (10), JoinGroup (11), Heartbeat (12),
LeaveGroup (13), SyncGroup (14), DescribeGroups (15), ListGroups (16), OffsetCommit (8),
OffsetFetch (9), DeleteGroups (42), OffsetDelete (47)."""

from tidelog.protocol.schema import api, f

_NO_AUTHORIZED_OPERATIONS = -(1 << 31)

FIND_COORDINATOR = api(
    10, "FindCoordinator", flexible="3+",
    request=[
        f("key", "string", "0-3"),
        f("key_type", "int8", "1+"),
        f("coordinator_keys", "[]string", "4+"),
    ],
    response=[
        f("throttle_time_ms", "int32", "1+"),
        f("error_code", "int16", "0-3"),
        f("error_message", "string", "1-3", nullable="1-3"),
        f("node_id", "int32", "0-3"),
        f("host", "string", "0-3"),
        f("port", "int32", "0-3"),
        f("coordinators", [
            f("key", "string"),
            f("node_id", "int32"),
            f("host", "string"),
            f("port", "int32"),
            f("error_code", "int16"),
            f("error_message", "string", nullable="4+"),
        ], "4+"),
    ],
)

JOIN_GROUP = api(
    11, "JoinGroup", flexible="6+",
    request=[
        f("group_id", "string"),
        f("session_timeout_ms", "int32"),
        f("rebalance_timeout_ms", "int32", "1+", default=-1),
        f("member_id", "string"),
        f("group_instance_id", "string", "5+", nullable="5+", default=None),
        f("protocol_type", "string"),
        f("protocols", [
            f("name", "string"),
            f("metadata", "bytes"),
        ]),
        f("reason", "string", "8+", nullable="8+", default=None),
    ],
    response=[
        f("throttle_time_ms", "int32", "2+"),
        f("error_code", "int16"),
        f("generation_id", "int32", default=-1),
        f("protocol_type", "string", "7+", nullable="7+", default=None),
        f("protocol_name", "string", nullable="7+"),
        f("leader", "string"),
        f("skip_assignment", "bool", "9+"),
        f("member_id", "string"),
        f("members", [
            f("member_id", "string"),
            f("group_instance_id", "string", "5+", nullable="5+", default=None),
            f("metadata", "bytes"),
        ]),
    ],
)

HEARTBEAT = api(
    12, "Heartbeat", flexible="4+",
    request=[
        f("group_id", "string"),
        f("generation_id", "int32"),
        f("member_id", "string"),
        f("group_instance_id", "string", "3+", nullable="3+", default=None),
    ],
    response=[
        f("throttle_time_ms", "int32", "1+"),
        f("error_code", "int16"),
    ],
)

LEAVE_GROUP = api(
    13, "LeaveGroup", flexible="4+",
    request=[
        f("group_id", "string"),
        f("member_id", "string", "0-2"),
        f("members", [
            f("member_id", "string"),
            f("group_instance_id", "string", nullable="3+", default=None),
            f("reason", "string", "5+", nullable="5+", default=None),
        ], "3+"),
    ],
    response=[
        f("throttle_time_ms", "int32", "1+"),
        f("error_code", "int16"),
        f("members", [
            f("member_id", "string"),
            f("group_instance_id", "string", nullable="3+"),
            f("error_code", "int16"),
        ], "3+"),
    ],
)

SYNC_GROUP = api(
    14, "SyncGroup", flexible="4+",
    request=[
        f("group_id", "string"),
        f("generation_id", "int32"),
        f("member_id", "string"),
        f("group_instance_id", "string", "3+", nullable="3+", default=None),
        f("protocol_type", "string", "5+", nullable="5+", default=None),
        f("protocol_name", "string", "5+", nullable="5+", default=None),
        f("assignments", [
            f("member_id", "string"),
            f("assignment", "bytes"),
        ]),
    ],
    response=[
        f("throttle_time_ms", "int32", "1+"),
        f("error_code", "int16"),
        f("protocol_type", "string", "5+", nullable="5+", default=None),
        f("protocol_name", "string", "5+", nullable="5+", default=None),
        f("assignment", "bytes"),
    ],
)

DESCRIBE_GROUPS = api(
    15, "DescribeGroups", flexible="5+",
    request=[
        f("groups", "[]string"),
        f("include_authorized_operations", "bool", "3+"),
    ],
    response=[
        f("throttle_time_ms", "int32", "1+"),
        f("groups", [
            f("error_code", "int16"),
            f("error_message", "string", "6+", nullable="6+", default=None),
            f("group_id", "string"),
            f("group_state", "string"),
            f("protocol_type", "string"),
            f("protocol_data", "string"),
            f("members", [
                f("member_id", "string"),
                f("group_instance_id", "string", "4+", nullable="4+", default=None),
                f("client_id", "string"),
                f("client_host", "string"),
                f("member_metadata", "bytes"),
                f("member_assignment", "bytes"),
            ]),
            f("authorized_operations", "int32", "3+", default=_NO_AUTHORIZED_OPERATIONS),
        ]),
    ],
)

LIST_GROUPS = api(
    16, "ListGroups", flexible="3+",
    request=[
        f("states_filter", "[]string", "4+"),
        f("types_filter", "[]string", "5+"),
    ],
    response=[
        f("throttle_time_ms", "int32", "1+"),
        f("error_code", "int16"),
        f("groups", [
            f("group_id", "string"),
            f("protocol_type", "string"),
            f("group_state", "string", "4+"),
            f("group_type", "string", "5+"),
        ]),
    ],
)

OFFSET_COMMIT = api(
    8, "OffsetCommit", flexible="8+",
    request=[
        f("group_id", "string"),
        f("generation_id_or_member_epoch", "int32", "1+", default=-1),
        f("member_id", "string", "1+"),
        f("group_instance_id", "string", "7+", nullable="7+", default=None),
        f("retention_time_ms", "int64", "2-4", default=-1),
        f("topics", [
            f("name", "string", "0-9"),
            f("topic_id", "uuid", "10+"),
            f("partitions", [
                f("partition_index", "int32"),
                f("committed_offset", "int64"),
                f("committed_leader_epoch", "int32", "6+", default=-1),
                f("committed_metadata", "string", nullable="0+"),
            ]),
        ]),
    ],
    response=[
        f("throttle_time_ms", "int32", "3+"),
        f("topics", [
            f("name", "string", "0-9"),
            f("topic_id", "uuid", "10+"),
            f("partitions", [
                f("partition_index", "int32"),
                f("error_code", "int16"),
            ]),
        ]),
    ],
)

OFFSET_FETCH = api(
    9, "OffsetFetch", flexible="6+",
    request=[
        f("group_id", "string", "0-7"),
        f("topics", [
            f("name", "string"),
            f("partition_indexes", "[]int32"),
        ], "0-7", nullable="2-7"),
        f("groups", [
            f("group_id", "string"),
            f("member_id", "string", "9+", nullable="9+", default=None),
            f("member_epoch", "int32", "9+", default=-1),
            f("topics", [
                f("name", "string", "8-9"),
                f("topic_id", "uuid", "10+"),
                f("partition_indexes", "[]int32"),
            ], nullable="8+"),
        ], "8+"),
        f("require_stable", "bool", "7+"),
    ],
    response=[
        f("throttle_time_ms", "int32", "3+"),
        f("topics", [
            f("name", "string"),
            f("partitions", [
                f("partition_index", "int32"),
                f("committed_offset", "int64"),
                f("committed_leader_epoch", "int32", "5+", default=-1),
                f("metadata", "string", nullable="0-7"),
                f("error_code", "int16"),
            ]),
        ], "0-7"),
        f("error_code", "int16", "2-7"),
        f("groups", [
            f("group_id", "string"),
            f("topics", [
                f("name", "string", "8-9"),
                f("topic_id", "uuid", "10+"),
                f("partitions", [
                    f("partition_index", "int32"),
                    f("committed_offset", "int64"),
                    f("committed_leader_epoch", "int32", default=-1),
                    f("metadata", "string", nullable="8+"),
                    f("error_code", "int16"),
                ]),
            ]),
            f("error_code", "int16"),
        ], "8+"),
    ],
)

DELETE_GROUPS = api(
    42, "DeleteGroups", flexible="2+",
    request=[f("groups_names", "[]string")],
    response=[
        f("throttle_time_ms", "int32"),
        f("results", [
            f("group_id", "string"),
            f("error_code", "int16"),
        ]),
    ],
)

OFFSET_DELETE = api(
    47, "OffsetDelete", flexible="none",
    request=[
        f("group_id", "string"),
        f("topics", [
            f("name", "string"),
            f("partitions", [f("partition_index", "int32")]),
        ]),
    ],
    response=[
        f("error_code", "int16"),
        f("throttle_time_ms", "int32"),
        f("topics", [
            f("name", "string"),
            f("partitions", [
                f("partition_index", "int32"),
                f("error_code", "int16"),
            ]),
        ]),
    ],
)

APIS = (FIND_COORDINATOR, JOIN_GROUP, HEARTBEAT, LEAVE_GROUP, SYNC_GROUP, DESCRIBE_GROUPS,
        LIST_GROUPS, OFFSET_COMMIT, OFFSET_FETCH, DELETE_GROUPS, OFFSET_DELETE)
