"""Handlers of the transaction APIs: AddPartitionsToTxn (24, v0-3 and the batched v4 form
brokers use to verify), AddOffsetsToTxn (25), EndTxn (26), WriteTxnMarkers (27),
TxnOffsetCommit (28, into the group coordinator), DescribeTransactions (65) and
ListTransactions (66). InitProducerId with a transactional id and FindCoordinator key type 1
call the same coordinator (``core.txns``) from their own handlers.

Each translates between the wire structs and
:class:`~tidelog.broker.txn.coordinator.TransactionCoordinator`; fallbacks put the error on
every entry of the answer's shape. Per Kafka, AddPartitionsToTxn v4+ answers a top-level
error only for the request as a whole, and errors per transaction and partition otherwise.
"""

from __future__ import annotations

import re
import time

from tidelog.broker.core import BrokerCore
from tidelog.broker.groups.handlers import commit_answer, commit_entries, offset_commit_fallback
from tidelog.broker.handlers.base import Handler
from tidelog.broker.txn.markers import append_marker
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.header import RequestHeader
from tidelog.transactions.state import STATUS_BY_NAME


def _topics_of(topics: list[Struct]) -> list[tuple[str, int]]:
    return [(t.name, p) for t in topics for p in t.partitions]


def _results(errors: dict[tuple[str, int], int]) -> list[Struct]:
    by_topic: dict[str, list[Struct]] = {}
    for (topic, p), code in errors.items():
        by_topic.setdefault(topic, []).append(
            Struct(partition_index=p, partition_error_code=int(code)))
    return [Struct(name=t, results_by_partition=ps) for t, ps in by_topic.items()]


async def add_partitions_to_txn(core: BrokerCore, header: RequestHeader, req: Struct
                                ) -> Struct:
    if header.api_version <= 3:
        errors = await core.txns.add_partitions(
            req.v3_and_below_transactional_id, req.v3_and_below_producer_id,
            req.v3_and_below_producer_epoch, _topics_of(req.v3_and_below_topics))
        return Struct(throttle_time_ms=0, results_by_topic_v3_and_below=_results(errors))
    results = []
    for txn in req.transactions:
        errors = await core.txns.add_partitions(
            txn.transactional_id, txn.producer_id, txn.producer_epoch,
            _topics_of(txn.topics), verify_only=txn.verify_only)
        results.append(Struct(transactional_id=txn.transactional_id,
                              topic_results=_results(errors)))
    return Struct(throttle_time_ms=0, error_code=0, results_by_transaction=results)


def add_partitions_to_txn_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    if version <= 3:
        return Struct(results_by_topic_v3_and_below=_results(
            dict.fromkeys(_topics_of(req.v3_and_below_topics), int(code))))
    return Struct(error_code=int(code), results_by_transaction=[])


async def add_offsets_to_txn(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    code = await core.txns.add_offsets(req.transactional_id, req.producer_id,
                                       req.producer_epoch, req.group_id)
    return Struct(throttle_time_ms=0, error_code=int(code))


def simple_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(error_code=int(code))


async def end_txn(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    code = await core.txns.end_txn(req.transactional_id, req.producer_id, req.producer_epoch,
                                   bool(req.committed))
    return Struct(throttle_time_ms=0, error_code=int(code))


async def write_txn_markers(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    markers = []
    for m in req.markers:
        topics = []
        for t in m.topics:
            parts = []
            for p in t.partition_indexes:
                code = await append_marker(core, t.name, p, m.producer_id, m.producer_epoch,
                                           bool(m.transaction_result), m.coordinator_epoch)
                parts.append(Struct(partition_index=p, error_code=int(code)))
            topics.append(Struct(name=t.name, partitions=parts))
        markers.append(Struct(producer_id=m.producer_id, topics=topics))
    return Struct(markers=markers)


def write_txn_markers_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(markers=[
        Struct(producer_id=m.producer_id, topics=[
            Struct(name=t.name, partitions=[
                Struct(partition_index=p, error_code=int(code)) for p in t.partition_indexes])
            for t in m.topics])
        for m in req.markers])


async def txn_offset_commit(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    return commit_answer(req, await core.groups.txn_commit(
        req.group_id, req.producer_id, req.producer_epoch, req.generation_id, req.member_id,
        req.group_instance_id, commit_entries(req)))


async def describe_transactions(core: BrokerCore, header: RequestHeader, req: Struct
                                ) -> Struct:
    states = []
    for tid in req.transactional_ids:
        code, meta = core.txns.describe(tid)
        if meta is None:
            states.append(Struct(error_code=int(code), transactional_id=tid,
                                 transaction_state="", transaction_timeout_ms=0,
                                 transaction_start_time_ms=-1, producer_id=-1,
                                 producer_epoch=-1, topics=[]))
            continue
        by_topic: dict[str, list[int]] = {}
        for topic, p in meta.sorted_partitions():
            by_topic.setdefault(topic, []).append(p)
        states.append(Struct(
            error_code=0, transactional_id=tid, transaction_state=meta.status.kafka_name,
            transaction_timeout_ms=meta.timeout_ms, transaction_start_time_ms=meta.start_ms,
            producer_id=meta.producer_id, producer_epoch=meta.producer_epoch,
            topics=[Struct(topic=t, partitions=ps) for t, ps in by_topic.items()]))
    return Struct(throttle_time_ms=0, transaction_states=states)


def describe_transactions_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(transaction_states=[
        Struct(error_code=int(code), transactional_id=tid) for tid in req.transactional_ids])


async def list_transactions(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    wanted = set(req.state_filters)
    unknown = sorted(s for s in wanted if s not in STATUS_BY_NAME)
    pids = set(req.producer_id_filters)
    now_ms = time.time_ns() // 1_000_000
    listed = []
    for meta in core.txns.listed():
        if wanted and meta.status.kafka_name not in wanted:
            continue
        if pids and meta.producer_id not in pids:
            continue
        if req.duration_filter >= 0 and (meta.start_ms < 0 or
                                         now_ms - meta.start_ms < req.duration_filter):
            continue
        if req.transactional_id_pattern and \
                re.fullmatch(req.transactional_id_pattern, meta.transactional_id) is None:
            continue
        listed.append(Struct(transactional_id=meta.transactional_id,
                             producer_id=meta.producer_id,
                             transaction_state=meta.status.kafka_name))
    return Struct(throttle_time_ms=0, error_code=0, unknown_state_filters=unknown,
                  transaction_states=listed)


def list_transactions_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(error_code=int(code), unknown_state_filters=[], transaction_states=[])


HANDLERS = {
    ApiKey.ADD_PARTITIONS_TO_TXN: Handler(add_partitions_to_txn, add_partitions_to_txn_fallback),
    ApiKey.ADD_OFFSETS_TO_TXN: Handler(add_offsets_to_txn, simple_fallback),
    ApiKey.END_TXN: Handler(end_txn, simple_fallback),
    ApiKey.WRITE_TXN_MARKERS: Handler(write_txn_markers, write_txn_markers_fallback),
    ApiKey.TXN_OFFSET_COMMIT: Handler(txn_offset_commit, offset_commit_fallback),
    ApiKey.DESCRIBE_TRANSACTIONS: Handler(describe_transactions,
                                          describe_transactions_fallback),
    ApiKey.LIST_TRANSACTIONS: Handler(list_transactions, list_transactions_fallback),
}
