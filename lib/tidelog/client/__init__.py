"""tidelog's asyncio Kafka client: what log-produce, log-consume and log-topics are made of.

Layers (each module's docstring has the details):

* :mod:`~tidelog.client.connection` -- one broker connection: framing, correlation ids, bounded
  in-flight requests, ApiVersions negotiation;
* :mod:`~tidelog.client.cluster` -- bootstrap, a connection per broker, the metadata cache,
  leader routing; :mod:`~tidelog.client.retry` -- bounded retries with backoff;
* :mod:`~tidelog.client.producer` -- batching, linger, compression, acks, idempotence,
  back-pressure, murmur2 and sticky partitioning (:mod:`~tidelog.client.murmur2`);
* :mod:`~tidelog.client.transactions` -- the transactional producer (exactly-once: outputs
  and consumed offsets committed together);
* :mod:`~tidelog.client.consumer` -- assigned partitions, start positions
  (:mod:`~tidelog.client.offsets`), long-polling fetches, decoding of every codec;
* :mod:`~tidelog.client.admin` -- topics, partitions, configs, offsets.

Dependencies: only :mod:`tidelog.protocol` and :mod:`tidelog.records` (design.md). Every error
raised on purpose is a :class:`~tidelog.client.errors.ClientError` (a TidelogError).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tidelog.client.admin import Admin, PartitionDescription, TopicDescription
    from tidelog.client.cluster import Cluster, PartitionInfo, TopicInfo
    from tidelog.client.connection import Connection, connect
    from tidelog.client.consumer import Consumer, ConsumerConfig, Fetched
    from tidelog.client.errors import BrokerError, ClientError, ConnectionLost, RequestTimedOut
    from tidelog.client.murmur2 import murmur2, partition_for_key
    from tidelog.client.offsets import BEGINNING, END, OffsetSpec, list_offsets, parse_offset
    from tidelog.client.producer import Producer, ProducerConfig, ProducerStats, parse_acks
    from tidelog.client.retry import RetryPolicy
    from tidelog.client.transactions import (
        AbortableTransactionError,
        FatalTransactionError,
        ProducerFenced,
        TransactionalProducer,
    )

# Exports load on first use (PEP 562): a program that only produces does not pay for the
# admin, consumer and group modules at start-up (design.md: programs start fast).
_EXPORTS = {
    "Admin": "tidelog.client.admin",
    "PartitionDescription": "tidelog.client.admin",
    "TopicDescription": "tidelog.client.admin",
    "Cluster": "tidelog.client.cluster",
    "PartitionInfo": "tidelog.client.cluster",
    "TopicInfo": "tidelog.client.cluster",
    "Connection": "tidelog.client.connection",
    "connect": "tidelog.client.connection",
    "Consumer": "tidelog.client.consumer",
    "ConsumerConfig": "tidelog.client.consumer",
    "Fetched": "tidelog.client.consumer",
    "list_offsets": "tidelog.client.offsets",
    "BrokerError": "tidelog.client.errors",
    "ClientError": "tidelog.client.errors",
    "ConnectionLost": "tidelog.client.errors",
    "RequestTimedOut": "tidelog.client.errors",
    "murmur2": "tidelog.client.murmur2",
    "partition_for_key": "tidelog.client.murmur2",
    "BEGINNING": "tidelog.client.offsets",
    "END": "tidelog.client.offsets",
    "OffsetSpec": "tidelog.client.offsets",
    "parse_offset": "tidelog.client.offsets",
    "Producer": "tidelog.client.producer",
    "ProducerConfig": "tidelog.client.producer",
    "ProducerStats": "tidelog.client.producer",
    "parse_acks": "tidelog.client.producer",
    "RetryPolicy": "tidelog.client.retry",
    "AbortableTransactionError": "tidelog.client.transactions",
    "FatalTransactionError": "tidelog.client.transactions",
    "ProducerFenced": "tidelog.client.transactions",
    "TransactionalProducer": "tidelog.client.transactions",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "BEGINNING",
    "END",
    "AbortableTransactionError",
    "Admin",
    "BrokerError",
    "ClientError",
    "Cluster",
    "Connection",
    "ConnectionLost",
    "Consumer",
    "ConsumerConfig",
    "FatalTransactionError",
    "Fetched",
    "OffsetSpec",
    "PartitionDescription",
    "PartitionInfo",
    "Producer",
    "ProducerConfig",
    "ProducerFenced",
    "ProducerStats",
    "RequestTimedOut",
    "RetryPolicy",
    "TopicDescription",
    "TopicInfo",
    "TransactionalProducer",
    "connect",
    "list_offsets",
    "murmur2",
    "parse_acks",
    "parse_offset",
    "partition_for_key",
]
