"""Schemas of the transaction APIs: AddPartitionsToTxn (24), AddOffsetsToTxn (25), EndTxn (26),
WriteTxnMarkers (27), TxnOffsetCommit (28), DescribeTransactions (65), ListTransactions (66)."""

from tidelog.protocol.schema import api, f

_TOPICS = [f("name", "string"), f("partitions", "[]int32")]
_RESULTS = [
    f("name", "string"),
    f("results_by_partition", [
        f("partition_index", "int32"),
        f("partition_error_code", "int16"),
    ]),
]

ADD_PARTITIONS_TO_TXN = api(
    24, "AddPartitionsToTxn", flexible="3+",
    request=[
        f("transactions", [
            f("transactional_id", "string"),
            f("producer_id", "int64"),
            f("producer_epoch", "int16"),
            f("verify_only", "bool", default=False),
            f("topics", _TOPICS),
        ], "4+"),
        f("v3_and_below_transactional_id", "string", "0-3"),
        f("v3_and_below_producer_id", "int64", "0-3"),
        f("v3_and_below_producer_epoch", "int16", "0-3"),
        f("v3_and_below_topics", _TOPICS, "0-3"),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("error_code", "int16", "4+"),
        f("results_by_transaction", [
            f("transactional_id", "string"),
            f("topic_results", _RESULTS),
        ], "4+"),
        f("results_by_topic_v3_and_below", _RESULTS, "0-3"),
    ],
)

ADD_OFFSETS_TO_TXN = api(
    25, "AddOffsetsToTxn", flexible="3+",
    request=[
        f("transactional_id", "string"),
        f("producer_id", "int64"),
        f("producer_epoch", "int16"),
        f("group_id", "string"),
    ],
    response=[f("throttle_time_ms", "int32"), f("error_code", "int16")],
)

END_TXN = api(
    26, "EndTxn", flexible="3+",
    request=[
        f("transactional_id", "string"),
        f("producer_id", "int64"),
        f("producer_epoch", "int16"),
        f("committed", "bool"),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("error_code", "int16"),
        f("producer_id", "int64", "5+", default=-1),
        f("producer_epoch", "int16", "5+", default=-1),
    ],
)

WRITE_TXN_MARKERS = api(
    27, "WriteTxnMarkers", flexible="1+",
    request=[
        f("markers", [
            f("producer_id", "int64"),
            f("producer_epoch", "int16"),
            f("transaction_result", "bool"),
            f("topics", [f("name", "string"), f("partition_indexes", "[]int32")]),
            f("coordinator_epoch", "int32"),
            f("transaction_version", "int8", "2+", default=0),
        ]),
    ],
    response=[
        f("markers", [
            f("producer_id", "int64"),
            f("topics", [
                f("name", "string"),
                f("partitions", [f("partition_index", "int32"), f("error_code", "int16")]),
            ]),
        ]),
    ],
)

TXN_OFFSET_COMMIT = api(
    28, "TxnOffsetCommit", flexible="3+",
    request=[
        f("transactional_id", "string"),
        f("group_id", "string"),
        f("producer_id", "int64"),
        f("producer_epoch", "int16"),
        f("generation_id", "int32", "3+", default=-1),
        f("member_id", "string", "3+", default=""),
        f("group_instance_id", "string", "3+", nullable="3+", default=None),
        f("topics", [
            f("name", "string"),
            f("partitions", [
                f("partition_index", "int32"),
                f("committed_offset", "int64"),
                f("committed_leader_epoch", "int32", "2+", default=-1),
                f("committed_metadata", "string", nullable="0+"),
            ]),
        ]),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("topics", [
            f("name", "string"),
            f("partitions", [f("partition_index", "int32"), f("error_code", "int16")]),
        ]),
    ],
)

DESCRIBE_TRANSACTIONS = api(
    65, "DescribeTransactions", flexible="0+",
    request=[f("transactional_ids", "[]string")],
    response=[
        f("throttle_time_ms", "int32"),
        f("transaction_states", [
            f("error_code", "int16"),
            f("transactional_id", "string"),
            f("transaction_state", "string"),
            f("transaction_timeout_ms", "int32"),
            f("transaction_start_time_ms", "int64"),
            f("producer_id", "int64"),
            f("producer_epoch", "int16"),
            f("topics", [f("topic", "string"), f("partitions", "[]int32")]),
        ]),
    ],
)

LIST_TRANSACTIONS = api(
    66, "ListTransactions", flexible="0+",
    request=[
        f("state_filters", "[]string"),
        f("producer_id_filters", "[]int64"),
        f("duration_filter", "int64", "1+", default=-1),
        f("transactional_id_pattern", "string", "2+", nullable="2+", default=None),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("error_code", "int16"),
        f("unknown_state_filters", "[]string"),
        f("transaction_states", [
            f("transactional_id", "string"),
            f("producer_id", "int64"),
            f("transaction_state", "string"),
        ]),
    ],
)

APIS = (ADD_PARTITIONS_TO_TXN, ADD_OFFSETS_TO_TXN, END_TXN, WRITE_TXN_MARKERS,
        TXN_OFFSET_COMMIT, DESCRIBE_TRANSACTIONS, LIST_TRANSACTIONS)
