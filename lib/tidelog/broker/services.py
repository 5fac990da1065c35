"""What the broker's subsystems need of the broker: narrow, structural interfaces.

The group coordinator (``broker/groups/``) and the cluster side (``broker/quorum/``: the node,
its admin operations) work on a broker; :class:`~tidelog.broker.core.BrokerCore` is that broker,
and it owns those subsystems. Typed against :class:`Broker` here instead of ``BrokerCore``, they
do not import the core, so the import graph has no circle (core -> groups/quorum -> services,
never back): the daemon composes them, each depending only on what it uses.

:class:`ProducerIdPool` is the block of producer ids this broker hands out (InitProducerId);
the single-node and cluster paths both draw from it. In memory only: a restarted broker asks for
a new block, so an id is never handed out twice (unused ids of a block are skipped).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from tidelog.broker.config import BrokerConfig
from tidelog.broker.listeners import ListenerSpec
from tidelog.broker.quorum.metadata_quorum import MetadataQuorum
from tidelog.broker.replication.manager import ReplicaManager
from tidelog.metadata.controller_ops import ConfigChange, ProducerIdBlock
from tidelog.metadata.image import MetadataImage, TopicImage
from tidelog.metadata.records import MetadataRecord
from tidelog.storage.config import LogConfig
from tidelog.storage.manager import LogManager


class ProducerIdPool:
    """Producer ids from the current block, one after the other."""

    def __init__(self) -> None:
        self._block: ProducerIdBlock | None = None
        self._next = 0

    def take(self) -> int | None:
        """The next id, or None when the block is used up (or none was given yet)."""
        if self._block is None or self._next >= self._block.next_block_start:
            return None
        pid = self._next
        self._next += 1
        return pid

    def refill(self, block: ProducerIdBlock) -> None:
        self._block, self._next = block, block.first


class Controller(Protocol):
    """The active controller, reached through this node (a cluster's ClusterNode)."""

    async def submit(self, op: str, args: dict[str, Any]) -> Any: ...


class Broker(Protocol):
    """The broker as its subsystems see it (BrokerCore satisfies it)."""

    @property
    def node_id(self) -> int: ...

    @property
    def config(self) -> BrokerConfig: ...

    @property
    def default_log_config(self) -> LogConfig: ...

    @property
    def logs(self) -> LogManager: ...

    @property
    def replicas(self) -> ReplicaManager: ...

    @property
    def metadata(self) -> MetadataQuorum | None: ...

    @property
    def cluster(self) -> Controller | None:
        """None on a single node (changes are made by the broker itself)."""

    @property
    def producer_ids(self) -> ProducerIdPool: ...

    @property
    def listeners(self) -> tuple[ListenerSpec, ...]:
        """The named listeners besides the plain ``listen`` address (registered with it)."""

    @property
    def image(self) -> MetadataImage: ...

    @property
    def broker_ids(self) -> list[int]: ...

    def create_topic(self, name: str, partitions: int, replication_factor: int,
                     configs: Mapping[str, str | None], *, validate_only: bool = False
                     ) -> TopicImage: ...

    def delete_topic(self, name: str | None, topic_id: uuid.UUID | None = None) -> str: ...

    def create_partitions(self, name: str, count: int, *, validate_only: bool = False
                          ) -> None: ...

    def alter_configs(self, resource_type: int, resource_name: str,
                      changes: Sequence[ConfigChange], *, validate_only: bool = False
                      ) -> None: ...

    def allocate_producer_id(self) -> int: ...

    def commit(self, records: Sequence[MetadataRecord]) -> None:
        """Commit on a single node (a cluster's changes go through its controller)."""


class OffsetsTopic(Protocol):
    """What the transaction coordinator needs of ``__consumer_offsets``."""

    async def ensure_topic(self) -> None: ...

    def partition_of(self, group: str) -> int: ...


class Groups(Protocol):
    """What the transaction coordinator needs of the group coordinator."""

    @property
    def store(self) -> OffsetsTopic: ...

    def complete_txn(self, partition: int, producer_id: int, producer_epoch: int,
                     commit: bool) -> None: ...


class TxnBroker(Broker, Protocol):
    """The broker as the transaction coordinator and its marker writer see it."""

    @property
    def groups(self) -> Groups: ...

    @property
    def stopping(self) -> bool:
        """Shutdown has begun."""
