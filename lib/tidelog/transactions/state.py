"""A transactional id's state at its coordinator (Kafka's TransactionMetadata).

States and the transitions the coordinator makes (Kafka's names; the byte is what
``__transaction_state`` stores)::

    Empty/CompleteCommit/CompleteAbort --AddPartitionsToTxn--> Ongoing
    Ongoing --EndTxn(commit)--> PrepareCommit --markers written--> CompleteCommit
    Ongoing --EndTxn(abort), timeout, new producer--> PrepareAbort --markers--> CompleteAbort
    Ongoing --InitProducerId (a new producer instance)--> PrepareEpochFence --> PrepareAbort

Invariants: the producer epoch only grows for one producer id; when it would pass
:data:`MAX_EPOCH` a new producer id is taken (epoch 0). Only an Ongoing transaction has
partitions to add to; a Prepare* state is written to the log before any marker is sent, so a
coordinator that takes over (restart, failover) finishes it from the log.
"""

from __future__ import annotations

import dataclasses
from enum import IntEnum


class TxnStatus(IntEnum):
    EMPTY = 0
    ONGOING = 1
    PREPARE_COMMIT = 2
    PREPARE_ABORT = 3
    COMPLETE_COMMIT = 4
    COMPLETE_ABORT = 5
    DEAD = 6
    PREPARE_EPOCH_FENCE = 7

    @property
    def kafka_name(self) -> str:
        return _NAMES[self]


_NAMES = {
    TxnStatus.EMPTY: "Empty", TxnStatus.ONGOING: "Ongoing",
    TxnStatus.PREPARE_COMMIT: "PrepareCommit", TxnStatus.PREPARE_ABORT: "PrepareAbort",
    TxnStatus.COMPLETE_COMMIT: "CompleteCommit", TxnStatus.COMPLETE_ABORT: "CompleteAbort",
    TxnStatus.DEAD: "Dead", TxnStatus.PREPARE_EPOCH_FENCE: "PrepareEpochFence",
}
STATUS_BY_NAME = {name: status for status, name in _NAMES.items()}

#: Kafka's Short.MaxValue - 1: the last epoch a producer id may use.
MAX_EPOCH = 32766
PREPARED = frozenset({TxnStatus.PREPARE_COMMIT, TxnStatus.PREPARE_ABORT,
                      TxnStatus.PREPARE_EPOCH_FENCE})
IDLE = frozenset({TxnStatus.EMPTY, TxnStatus.COMPLETE_COMMIT, TxnStatus.COMPLETE_ABORT})


@dataclasses.dataclass
class TxnMetadata:
    transactional_id: str
    producer_id: int
    producer_epoch: int
    timeout_ms: int
    status: TxnStatus = TxnStatus.EMPTY
    partitions: set[tuple[str, int]] = dataclasses.field(default_factory=set)
    start_ms: int = -1
    update_ms: int = -1
    #: The epoch before the last bump (KIP-360: a retried InitProducerId is recognised).
    last_producer_epoch: int = -1

    def copy(self) -> TxnMetadata:
        return dataclasses.replace(self, partitions=set(self.partitions))

    def sorted_partitions(self) -> list[tuple[str, int]]:
        return sorted(self.partitions)
