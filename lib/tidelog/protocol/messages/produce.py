"""Schemas: Produce (0), InitProducerId (22)."""

from tidelog.protocol.schema import api, f

_NODE_ENDPOINTS = [
    f("node_id", "int32"),
    f("host", "string"),
    f("port", "int32"),
    f("rack", "string", nullable="0+", default=None),
]

PRODUCE = api(
    0, "Produce", flexible="9+",
    request=[
        f("transactional_id", "string", "3+", nullable="3+", default=None),
        f("acks", "int16"),
        f("timeout_ms", "int32"),
        f("topic_data", [
            f("name", "string", "0-12"),
            f("topic_id", "uuid", "13+"),
            f("partition_data", [
                f("index", "int32"),
                f("records", "records", nullable="0+"),
            ]),
        ]),
    ],
    response=[
        f("responses", [
            f("name", "string", "0-12"),
            f("topic_id", "uuid", "13+"),
            f("partition_responses", [
                f("index", "int32"),
                f("error_code", "int16"),
                f("base_offset", "int64"),
                f("log_append_time_ms", "int64", "2+", default=-1),
                f("log_start_offset", "int64", "5+", default=-1),
                f("record_errors", [
                    f("batch_index", "int32", "8+"),
                    f("batch_index_error_message", "string", "8+", nullable="8+",
                      default=None),
                ], "8+"),
                f("error_message", "string", "8+", nullable="8+", default=None),
                f("current_leader", (
                    f("leader_id", "int32", default=-1),
                    f("leader_epoch", "int32", default=-1),
                ), "10+", tag=0),
            ]),
        ]),
        f("throttle_time_ms", "int32", "1+"),
        f("node_endpoints", _NODE_ENDPOINTS, "10+", tag=0),
    ],
)

INIT_PRODUCER_ID = api(
    22, "InitProducerId", flexible="2+",
    request=[
        f("transactional_id", "string", nullable="0+"),
        f("transaction_timeout_ms", "int32"),
        f("producer_id", "int64", "3+", default=-1),
        f("producer_epoch", "int16", "3+", default=-1),
        f("enable2_pc", "bool", "6+"),
        f("keep_prepared_txn", "bool", "6+"),
    ],
    response=[
        f("throttle_time_ms", "int32"),
        f("error_code", "int16"),
        f("producer_id", "int64", default=-1),
        f("producer_epoch", "int16"),
        f("ongoing_txn_producer_id", "int64", "6+", default=-1),
        f("ongoing_txn_producer_epoch", "int16", "6+", default=-1),
    ],
)

APIS = (PRODUCE, INIT_PRODUCER_ID)
