"""The transaction coordinator in process (a real BrokerCore in a temporary dir, no sockets):
epochs and fencing, the state rules of AddPartitionsToTxn/EndTxn, markers on the partitions,
timeouts, and a restart that finishes a transaction left prepared."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_group_coordinator import make_core, run
from tidelog.broker.core import BrokerCore
from tidelog.broker.txn.store import TXN_TOPIC
from tidelog.protocol.errors import ErrorCode as E
from tidelog.records import NewRecord, build_batch
from tidelog.transactions.log_format import encode_key, encode_value
from tidelog.transactions.state import TxnStatus


@pytest.fixture
def core(tmp_path: Path) -> Iterator[BrokerCore]:
    broker = make_core(tmp_path)
    yield broker
    broker.shutdown()


async def settled(core: BrokerCore, tid: str) -> None:
    while tid in core.txns._completing:
        await asyncio.sleep(0.01)


async def produce_txn(core: BrokerCore, pid: int, epoch: int, seq: int, p: int = 0) -> None:
    batch = memoryview(build_batch([NewRecord(b"v")], producer_id=pid, producer_epoch=epoch,
                                   base_sequence=seq, is_transactional=True))
    [result] = await core.replicas.append_records([("t", p, batch)], -1, 5000, 9)
    assert result.error == E.NONE, result


def test_epochs_fencing_and_the_state_rules(core: BrokerCore) -> None:
    tc = core.txns

    async def body() -> None:
        code, pid, epoch = await tc.init_producer_id("a", 60_000, -1, -1)
        assert (code, epoch) == (0, 0)
        assert await tc.end_txn("a", pid, epoch, True) == E.INVALID_TXN_STATE  # nothing begun
        assert await tc.add_partitions("a", pid, epoch, [("t", 0)]) == {("t", 0): 0}
        assert await tc.add_partitions("a", pid, epoch, [("t", 9), ("t", 1)]) == {
            ("t", 9): E.UNKNOWN_TOPIC_OR_PARTITION, ("t", 1): E.OPERATION_NOT_ATTEMPTED}
        await produce_txn(core, pid, epoch, 0)
        plog = core.partition_log("t", 0)
        assert plog is not None and plog.last_stable_offset == 0
        # a second instance: the first one's transaction is aborted, the first is fenced
        code, pid2, epoch2 = await tc.init_producer_id("a", 60_000, -1, -1)
        assert code == 0 and pid2 == pid and epoch2 > epoch
        assert plog.last_stable_offset == plog.log_end_offset == 2  # data + abort marker
        assert plog.aborted_transactions(0, 2)[0].producer_id == pid
        assert await tc.add_partitions("a", pid, epoch, [("t", 0)]) == {
            ("t", 0): E.PRODUCER_FENCED}
        assert await tc.end_txn("a", pid, epoch, True) == E.PRODUCER_FENCED
        assert (await tc.init_producer_id("a", 60_000, pid, epoch))[0] == E.PRODUCER_FENCED
        assert (await tc.init_producer_id("a", 0, -1, -1))[0] == E.INVALID_TRANSACTION_TIMEOUT
        assert (await tc.end_txn("b", 1, 0, True)) == E.INVALID_PRODUCER_ID_MAPPING
        # the zombie's data is refused where the fence's marker went
        batch = memoryview(build_batch([NewRecord(b"z")], producer_id=pid, producer_epoch=epoch,
                                       base_sequence=1, is_transactional=True))
        [zombie] = await core.replicas.append_records([("t", 0, batch)], -1, 5000, 9)
        assert zombie.error == E.INVALID_PRODUCER_EPOCH
        # commit: markers on both partitions, Complete state, a retried EndTxn is fine
        assert await tc.add_partitions("a", pid2, epoch2, [("t", 0), ("t", 1)]) == {
            ("t", 0): 0, ("t", 1): 0}
        await produce_txn(core, pid2, epoch2, 0, p=1)
        assert await tc.end_txn("a", pid2, epoch2, True) == 0
        await settled(core, "a")
        assert tc.txns["a"].status is TxnStatus.COMPLETE_COMMIT
        assert await tc.end_txn("a", pid2, epoch2, True) == 0
        assert await tc.end_txn("a", pid2, epoch2, False) == E.INVALID_TXN_STATE
        p1 = core.partition_log("t", 1)
        assert p1 is not None and p1.last_stable_offset == p1.log_end_offset == 2
        assert p1.aborted_transactions(0, 2) == []
        code, meta = tc.describe("a")
        assert code == 0 and meta is not None and meta.status is TxnStatus.COMPLETE_COMMIT

    run(body)


def test_a_transaction_past_its_timeout_is_aborted_and_fenced(core: BrokerCore) -> None:
    tc = core.txns

    async def body() -> None:
        _, pid, epoch = await tc.init_producer_id("slow", 1000, -1, -1)
        await tc.add_partitions("slow", pid, epoch, [("t", 0)])
        await produce_txn(core, pid, epoch, 0)
        start = tc.txns["slow"].start_ms
        assert await tc.abort_timed_out(start + 1000) == 0  # not past it yet
        assert await tc.abort_timed_out(start + 1001) == 1
        await settled(core, "slow")
        assert tc.txns["slow"].status is TxnStatus.COMPLETE_ABORT
        assert await tc.end_txn("slow", pid, epoch, True) == E.PRODUCER_FENCED
        plog = core.partition_log("t", 0)
        assert plog is not None and plog.last_stable_offset == plog.log_end_offset

    run(body)


def test_a_restart_finishes_a_prepared_commit(tmp_path: Path) -> None:
    first = make_core(tmp_path)

    async def prepare() -> int:
        _, pid, epoch = await first.txns.init_producer_id("p", 60_000, -1, -1)
        await first.txns.add_partitions("p", pid, epoch, [("t", 0)])
        await produce_txn(first, pid, epoch, 0)
        # what a coordinator crash after writing PrepareCommit leaves: the state, no markers
        meta = first.txns.txns["p"].copy()
        meta.status = TxnStatus.PREPARE_COMMIT
        await first.txns.store.write("p", [(encode_key("p"), encode_value(meta))])
        return pid

    pid = run(prepare)
    plog = first.partition_log("t", 0)
    assert plog is not None and plog.last_stable_offset == 0
    first.shutdown()
    second = make_core(tmp_path)
    try:
        async def finish() -> None:
            await second.txns.timeout_task()  # starts what the load found prepared
            await settled(second, "p")

        run(finish)
        assert second.txns.txns["p"].status is TxnStatus.COMPLETE_COMMIT
        plog = second.partition_log("t", 0)
        assert plog is not None and plog.last_stable_offset == plog.log_end_offset == 2
        assert plog.aborted_transactions(0, 2) == []
        assert second.image.topic(TXN_TOPIC) is not None and pid >= 0
    finally:
        second.shutdown()


def test_the_state_topic_and_the_timeout_limit_follow_the_settings(tmp_path: Path) -> None:
    from tidelog.broker.config import BrokerConfig

    config = BrokerConfig.load(env={}, overrides={
        "data_dir": str(tmp_path), "transaction_state_log_num_partitions": 3,
        "transaction_max_timeout_ms": 5000})
    core = BrokerCore(config)
    core.start()
    try:
        async def body() -> None:
            tc = core.txns
            code, _, _ = await tc.init_producer_id("s", 5001, -1, -1)
            assert code == E.INVALID_TRANSACTION_TIMEOUT
            code, _, epoch = await tc.init_producer_id("s", 5000, -1, -1)
            assert (code, epoch) == (0, 0)
            topic = core.image.topic(TXN_TOPIC)
            assert topic is not None and len(topic.partitions) == 3

        run(body)
    finally:
        core.shutdown()
