"""Schema of DescribeQuorum (55), which ``log-quorum`` sends to any broker.

Versions 0-2 (1 adds each replica's last fetch and last caught-up times; 2 adds error
messages, each replica's directory id and the voters' endpoints, ``nodes``). Flexible in every
version. tidelog answers it on every node: a broker forwards it to the active
controller over the quorum connections.
"""

from tidelog.protocol.schema import api, f

_REPLICA = [
    f("replica_id", "int32"),
    f("replica_directory_id", "uuid", "2+"),
    f("log_end_offset", "int64"),
    f("last_fetch_timestamp", "int64", "1+", default=-1),
    f("last_caught_up_timestamp", "int64", "1+", default=-1),
]

DESCRIBE_QUORUM = api(
    55, "DescribeQuorum", flexible="0+",
    request=[
        f("topics", [
            f("topic_name", "string"),
            f("partitions", [f("partition_index", "int32")]),
        ]),
    ],
    response=[
        f("error_code", "int16"),
        f("error_message", "string", "2+", nullable="2+", default=None),
        f("topics", [
            f("topic_name", "string"),
            f("partitions", [
                f("partition_index", "int32"),
                f("error_code", "int16"),
                f("error_message", "string", "2+", nullable="2+", default=None),
                f("leader_id", "int32"),
                f("leader_epoch", "int32"),
                f("high_watermark", "int64"),
                f("current_voters", list(_REPLICA)),
                f("observers", list(_REPLICA)),
            ]),
        ]),
        f("nodes", [
            f("node_id", "int32"),
            f("listeners", [
                f("name", "string"),
                f("host", "string"),
                f("port", "uint16"),
            ]),
        ], "2+"),
    ],
)

APIS = (DESCRIBE_QUORUM,)
