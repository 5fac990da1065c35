"""Schemas: ElectLeaders (43), AlterPartitionReassignments (45), ListPartitionReassignments (46).

ElectLeaders v1 adds the election type (v0 is preferred only) and the top-level error code, v2
is flexible. AlterPartitionReassignments v1 (KIP-860) adds AllowReplicationFactorChange; both
reassignment APIs are flexible in every version. A null replica list cancels a move, a null
topic list (ElectLeaders, ListPartitionReassignments) means every partition.
"""

from tidelog.protocol.schema import api, f

ELECT_LEADERS = api(
    43, "ElectLeaders", flexible="2+",
    request=[
        f("election_type", "int8", "1+"),
        f("topic_partitions", [
            f("topic", "string"),
            f("partitions", "[]int32"),
        ], nullable="0+"),
        f("timeout_ms", "int32", default=60000),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("error_code", "int16", "1+"),
        f("replica_election_results", [
            f("topic", "string"),
            f("partition_result", [
                f("partition_id", "int32"),
                f("error_code", "int16"),
                f("error_message", "string", nullable="0+"),
            ]),
        ]),
    ],
)

ALTER_PARTITION_REASSIGNMENTS = api(
    45, "AlterPartitionReassignments", flexible="0+",
    request=[
        f("timeout_ms", "int32", default=60000),
        f("allow_replication_factor_change", "bool", "1+", default=True),
        f("topics", [
            f("name", "string"),
            f("partitions", [
                f("partition_index", "int32"),
                f("replicas", "[]int32", nullable="0+", default=None),
            ]),
        ]),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("allow_replication_factor_change", "bool", "1+", default=True),
        f("error_code", "int16"),
        f("error_message", "string", nullable="0+"),
        f("responses", [
            f("name", "string"),
            f("partitions", [
                f("partition_index", "int32"),
                f("error_code", "int16"),
                f("error_message", "string", nullable="0+"),
            ]),
        ]),
    ],
)

LIST_PARTITION_REASSIGNMENTS = api(
    46, "ListPartitionReassignments", flexible="0+",
    request=[
        f("timeout_ms", "int32", default=60000),
        f("topics", [
            f("name", "string"),
            f("partition_indexes", "[]int32"),
        ], nullable="0+", default=None),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("error_code", "int16"),
        f("error_message", "string", nullable="0+"),
        f("topics", [
            f("name", "string"),
            f("partitions", [
                f("partition_index", "int32"),
                f("replicas", "[]int32"),
                f("adding_replicas", "[]int32"),
                f("removing_replicas", "[]int32"),
            ]),
        ]),
    ],
)

APIS = (ELECT_LEADERS, ALTER_PARTITION_REASSIGNMENTS, LIST_PARTITION_REASSIGNMENTS)
