"""ReplicaManager's AlterPartition outcomes: which failures drop a proposed ISR, which keep it.

A proposal whose outcome is unknown (a timeout: the controller may have committed it) must stay
pending, so the maximal ISR keeps counting a joining member for the high watermark until the
metadata shows the result; otherwise the leader could acknowledge records that member lacks
while the controller already has it in the ISR and may elect it (found by
tests/sim/replication_sim.py).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from tidelog.broker.config import BrokerConfig
from tidelog.broker.replication import manager as manager_module
from tidelog.broker.replication.manager import ReplicaManager
from tidelog.broker.replication.partition import Partition
from tidelog.metadata.errors import ControllerError
from tidelog.metadata.image import MetadataImage
from tidelog.records.builder import build_batch
from tidelog.records.record import NewRecord
from tidelog.storage.config import LogConfig
from tidelog.storage.log import PartitionLog
from tidelog.storage.manager import LogManager
from tidelog.storage.topic_partition import TopicPartition


def _leader_with_joining_follower(tmp_path: Path) -> tuple[ReplicaManager, Partition,
                                                              dict[str, Any]]:
    config = BrokerConfig.load(env={}, overrides={"data_dir": str(tmp_path)})
    manager = ReplicaManager(config, LogManager(tmp_path / "logs", LogConfig()),
                             MetadataImage, lambda _: LogConfig())
    plog = PartitionLog.open(tmp_path / "t-0", LogConfig())
    part = Partition(TopicPartition("t", 0), uuid.uuid4(), plog, 1, durable=False)
    part.make_leader((1, 2), (1,), leader_epoch=0, partition_epoch=0)
    state = part.leader_state
    assert state is not None
    plog.append(bytearray(build_batch([NewRecord(b"v")] * 3)), leader_epoch=0)
    assert state.record_fetch(2, 0, plog.log_end_offset, now_ms=0)  # at the high watermark
    proposal = state.isr_proposal(0, 10_000, {1, 2})
    assert proposal == (1, 2)
    args = {"topic_id": str(part.topic_id), "partition": 0, "leader": 1, "leader_epoch": 0,
            "partition_epoch": 0, "isr": list(proposal)}
    return manager, part, args


def test_unknown_outcome_keeps_the_proposal_and_retries(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manager_module, "ISR_CHECK_S", 0.0)
    manager, part, args = _leader_with_joining_follower(tmp_path)
    calls: list[dict[str, Any]] = []

    async def alter(sent: dict[str, Any]) -> None:
        calls.append(dict(sent))
        if len(calls) == 1:
            raise TimeoutError("no answer")  # committed or not: nobody knows
        raise ControllerError("INVALID_UPDATE_VERSION", "the first one was committed")

    manager.alter_partition = alter
    asyncio.run(asyncio.wait_for(manager._send_alter_partition(part, part.leader_state, args),
                                 10))  # type: ignore[arg-type]
    assert calls == [args, args]  # the same request again, then settled by the metadata
    state = part.leader_state
    assert state is not None and state.pending_isr == (1, 2)
    assert 2 in state.maximal_isr
    part.maybe_advance_high_watermark()
    assert part.log.high_watermark == 0  # follower 2 has nothing yet: the records wait for it
    part.update_isr((1, 2), (1, 2), 1)  # the metadata shows the change
    assert state.pending_isr is None and state.isr == (1, 2)
    part.log.close()


def test_a_refusal_that_proves_nothing_changed_drops_the_proposal(tmp_path: Path) -> None:
    manager, part, args = _leader_with_joining_follower(tmp_path)

    async def alter(sent: dict[str, Any]) -> None:
        raise ControllerError("INELIGIBLE_REPLICA", "broker 2 is fenced")

    manager.alter_partition = alter
    asyncio.run(asyncio.wait_for(manager._send_alter_partition(part, part.leader_state, args),
                                 10))  # type: ignore[arg-type]
    state = part.leader_state
    assert state is not None and state.pending_isr is None and state.maximal_isr == (1,)
    part.log.close()
