"""``__transaction_state``: where transaction coordinators keep their state.

The same machinery as ``__consumer_offsets`` (:class:`~tidelog.broker.groups.store.
OffsetsStore`): a compacted internal topic made on first use (the first FindCoordinator for a
transactional id), ``transaction_state_log_num_partitions`` partitions (50 by default, as
Kafka's transaction.state.log.num.partitions) and ``transaction_state_log_replication_factor``
replicas (3) capped at the registered brokers, both fixed once it exists. A transactional id lives
in partition ``abs(javaHash(id)) % partitions``; the leader of that partition is its
coordinator. Records: :mod:`tidelog.transactions.log_format`; a write is acknowledged once
every in-sync replica has it.
"""

from __future__ import annotations

from tidelog.broker.groups.store import OffsetsStore

TXN_TOPIC = "__transaction_state"


class TxnStateStore(OffsetsStore):
    topic = TXN_TOPIC

    def configured_partitions(self) -> int:
        return self.core.config.transaction_state_log_num_partitions

    def configured_replication(self) -> int:
        return self.core.config.transaction_state_log_replication_factor
