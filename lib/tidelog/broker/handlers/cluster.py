"""Handlers: ApiVersions (18), Metadata (3), DescribeCluster (60).

ApiVersions advertises exactly the APIs this broker serves (:data:`SERVED`), with the version
ranges of the protocol's table. Metadata describes the single broker, or in a cluster every
unfenced broker (a partition whose leader is fenced is answered LEADER_NOT_AVAILABLE with
leader -1; leader, replicas and ISR of every partition; in the moments around a broker's
death a little ahead of the metadata, see :mod:`tidelog.broker.liveness`) and creates
unknown topics on first use when both the request and the broker allow it
(``auto_create_topics``, with ``num_partitions``), as Kafka does; an internal topic is never
created that way (``__consumer_offsets`` is created as the group coordinator creates it, with
``offsets_topic_num_partitions``). Asked for authorized operations (Metadata v8+,
DescribeCluster), they report every operation as allowed: there is no authorizer (see
:mod:`tidelog.broker.handlers.acls`).

DescribeTopicPartitions (KIP-966) describes the named topics, or every topic when none is
named, in name order, at most ``response_partition_limit`` partitions per answer (capped at
2000 as in Kafka's broker): ``next_cursor`` names the first partition left out. An unknown
named topic is UNKNOWN_TOPIC_OR_PARTITION; topics are never created by it.
"""

from __future__ import annotations

import time
import uuid

from tidelog.broker import session
from tidelog.broker.acl.authorizer import CLUSTER_NAME
from tidelog.broker.core import BrokerCore
from tidelog.broker.handlers.acls import NOT_ASKED, authorized_operations
from tidelog.broker.handlers.base import Handler, error_of
from tidelog.broker.liveness import SUSPECT_WINDOW_S
from tidelog.broker.quorum import ops
from tidelog.metadata.controller_ops import INTERNAL_TOPICS
from tidelog.metadata.errors import ControllerError
from tidelog.metadata.image import TopicImage
from tidelog.protocol.apis import SUPPORTED_VERSIONS, ApiKey, api_versions_entries
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.header import RequestHeader
from tidelog.storage.errors import StorageError

#: The APIs logd answers. The group APIs are served by :mod:`tidelog.broker.groups.handlers`
#: (librdkafka also infers from FindCoordinator that the broker can take LZ4).
SERVED: frozenset[ApiKey] = frozenset(
    {
        ApiKey.PRODUCE,
        ApiKey.FETCH,
        ApiKey.LIST_OFFSETS,
        ApiKey.METADATA,
        ApiKey.API_VERSIONS,
        ApiKey.CREATE_TOPICS,
        ApiKey.DELETE_TOPICS,
        ApiKey.DELETE_RECORDS,
        ApiKey.DESCRIBE_LOG_DIRS,
        ApiKey.INIT_PRODUCER_ID,
        ApiKey.OFFSET_FOR_LEADER_EPOCH,
        ApiKey.DESCRIBE_CONFIGS,
        ApiKey.ALTER_CONFIGS,
        ApiKey.CREATE_PARTITIONS,
        ApiKey.INCREMENTAL_ALTER_CONFIGS,
        ApiKey.DESCRIBE_CLUSTER,
        ApiKey.DESCRIBE_TOPIC_PARTITIONS,
        ApiKey.DESCRIBE_QUORUM,
        ApiKey.FIND_COORDINATOR,
        ApiKey.JOIN_GROUP,
        ApiKey.SYNC_GROUP,
        ApiKey.HEARTBEAT,
        ApiKey.LEAVE_GROUP,
        ApiKey.OFFSET_COMMIT,
        ApiKey.OFFSET_FETCH,
        ApiKey.OFFSET_DELETE,
        ApiKey.LIST_GROUPS,
        ApiKey.DESCRIBE_GROUPS,
        ApiKey.DELETE_GROUPS,
        ApiKey.DESCRIBE_ACLS,
        ApiKey.CREATE_ACLS,
        ApiKey.DELETE_ACLS,
        ApiKey.ADD_PARTITIONS_TO_TXN,
        ApiKey.ADD_OFFSETS_TO_TXN,
        ApiKey.END_TXN,
        ApiKey.WRITE_TXN_MARKERS,
        ApiKey.TXN_OFFSET_COMMIT,
        ApiKey.DESCRIBE_TRANSACTIONS,
        ApiKey.LIST_TRANSACTIONS,
        ApiKey.ELECT_LEADERS,
        ApiKey.ALTER_PARTITION_REASSIGNMENTS,
        ApiKey.LIST_PARTITION_REASSIGNMENTS,
        ApiKey.SASL_HANDSHAKE,
        ApiKey.SASL_AUTHENTICATE,
        ApiKey.DESCRIBE_CLIENT_QUOTAS,
        ApiKey.ALTER_CLIENT_QUOTAS,
        ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS,
        ApiKey.ALTER_USER_SCRAM_CREDENTIALS,
    }
)

_ADVERTISED = api_versions_entries({k: v for k, v in SUPPORTED_VERSIONS.items() if k in SERVED})
_ZERO_UUID = uuid.UUID(int=0)


async def api_versions(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    return Struct(error_code=0, api_keys=_ADVERTISED, throttle_time_ms=0)


def api_versions_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(error_code=int(code), api_keys=_ADVERTISED)


def _brokers(core: BrokerCore) -> list[Struct]:
    """This broker alone, or in a cluster every registered unfenced broker (as Kafka) and those
    fenced moments ago (tidelog.broker.liveness: FencedGrace), each at its endpoint on the
    listener the request came in on (a broker without one is left out)."""
    listener = session.current().listener
    if not core.config.is_cluster:
        addr = core.address_on(core.node_id, listener)
        return [] if addr is None else [
            Struct(node_id=core.node_id, host=addr[0], port=addr[1], rack=None)]
    grace = core.liveness.grace
    brokers = core.image.brokers
    grace.forget_except((b.broker_id, b.incarnation_id) for b in brokers.values())
    out = []
    for _, b in sorted(brokers.items()):
        listed = grace.listed(b.broker_id, b.incarnation_id, b.fenced)
        addr = core.address_on(b.broker_id, listener) if listed else None
        if addr is not None:
            out.append(Struct(node_id=b.broker_id, host=addr[0], port=addr[1], rack=b.rack))
    return out


async def _live(core: BrokerCore) -> set[int] | None:
    """Brokers that lead and count in ISRs in answers (None on a single node: it is always
    live): the unfenced ones, less those this node has just seen die
    (tidelog.broker.liveness: suspects)."""
    if not core.config.is_cluster:
        return None
    now = time.monotonic()
    lost = core.replicas.lost_leaders(now, SUSPECT_WINDOW_S)
    if core.cluster is not None:
        lost |= core.cluster.lost_peers(now, SUSPECT_WINDOW_S)
    image = core.image
    dead = await core.liveness.suspects(image, lost) if lost else set()
    return {i for i, b in image.brokers.items() if not b.fenced and i not in dead}


def _describe_topic(core: BrokerCore, topic: TopicImage, live: set[int] | None = None) -> Struct:
    partitions = []
    for p, part in sorted(topic.partitions.items()):
        offline = [] if live is None else [r for r in part.replicas if r not in live]
        # a partition whose leader is fenced is offline: no leader until it comes back
        down = live is not None and part.leader not in live
        partitions.append(Struct(
            error_code=int(ErrorCode.LEADER_NOT_AVAILABLE) if down else 0,
            partition_index=p,
            leader_id=-1 if down else part.leader,
            leader_epoch=part.leader_epoch,
            replica_nodes=list(part.replicas),
            isr_nodes=[r for r in part.isr if live is None or r in live],
            offline_replicas=offline,
        ))
    return Struct(
        error_code=0,
        name=topic.name,
        topic_id=topic.topic_id,
        is_internal=topic.name in INTERNAL_TOPICS,  # Kafka's Topic.isInternal: these two only
        partitions=partitions,
    )


def _topic_error(name: str | None, code: ErrorCode, topic_id: uuid.UUID = _ZERO_UUID) -> Struct:
    return Struct(error_code=int(code), name=name, topic_id=topic_id, partitions=[])


async def _create_internal(core: BrokerCore, name: str) -> TopicImage | None:
    """Auto-creation of an internal topic: never as a client's topic (one partition, default
    configs); ``__consumer_offsets`` and ``__transaction_state`` are created as their
    coordinators create them (their own partition counts and configs), as Kafka does."""
    stores = {core.groups.store.topic: core.groups.store, core.txns.store.topic: core.txns.store}
    store = stores.get(name)
    if store is None:
        return None
    try:
        await store.ensure_topic()
    except (ControllerError, StorageError):
        return None
    return core.image.topic(name)


async def metadata(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    version = header.api_version
    image = core.image
    live = await _live(core)
    wanted = req.topics
    if wanted is None or (version == 0 and not wanted):
        topics = [_describe_topic(core, image.topics_by_id[image.topic_ids_by_name[n]], live)
                  for n in image.topic_names()]
    else:
        topics = []
        auto = core.config.auto_create_topics and (version < 4 or req.allow_auto_topic_creation)
        for entry in wanted:
            name = entry.name
            if name is None:
                topic = image.topic_by_id(entry.topic_id)
                if topic is None:
                    topics.append(_topic_error(None, ErrorCode.UNKNOWN_TOPIC_ID, entry.topic_id))
                else:
                    topics.append(_describe_topic(core, topic, live))
                continue
            topic = core.image.topic(name)
            if topic is None and auto and name in INTERNAL_TOPICS:
                topic = await _create_internal(core, name)
            elif topic is None and auto:
                try:
                    topic = await ops.create_topic(core, name, -1, -1, {})
                except ControllerError as exc:
                    if exc.error_name != "TOPIC_ALREADY_EXISTS":
                        topics.append(_topic_error(name, error_of(exc)))
                        continue
                    topic = core.image.topic(name)
                except StorageError as exc:
                    topics.append(_topic_error(name, error_of(exc)))
                    continue
            if topic is None:
                topics.append(_topic_error(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
            else:
                topics.append(_describe_topic(core, topic, live))
    if req.include_topic_authorized_operations:
        for t in topics:
            if t.error_code == 0:
                t.topic_authorized_operations = authorized_operations(core, 2, t.name)
    return Struct(
        throttle_time_ms=0,
        brokers=_brokers(core),
        cluster_id=core.cluster_id,
        controller_id=core.node_id,
        topics=topics,
        cluster_authorized_operations=authorized_operations(core, 4, CLUSTER_NAME)
        if req.include_cluster_authorized_operations else NOT_ASKED,
        error_code=0,
    )


def metadata_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    topics = [_topic_error(t.name, code) for t in (req.topics or [])]
    return Struct(brokers=[], topics=topics, error_code=int(code))


async def describe_cluster(core: BrokerCore, header: RequestHeader, req: Struct) -> Struct:
    listener = session.current().listener
    addr = core.address_on(core.node_id, listener) or ("", -1)
    others = [(b, core.address_on(b.broker_id, listener))
              for _, b in sorted(core.image.brokers.items())]
    return Struct(
        throttle_time_ms=0,
        error_code=0,
        error_message=None,
        endpoint_type=req.endpoint_type,
        cluster_id=core.cluster_id,
        controller_id=core.node_id,
        brokers=[
            Struct(broker_id=core.node_id, host=addr[0], port=addr[1], rack=None,
                   is_fenced=False)
        ] if not core.config.is_cluster else [
            Struct(broker_id=b.broker_id, host=a[0], port=a[1], rack=b.rack, is_fenced=b.fenced)
            for b, a in others if a is not None
        ],
        cluster_authorized_operations=authorized_operations(core, 4, CLUSTER_NAME)
        if req.include_cluster_authorized_operations else NOT_ASKED,
    )


def describe_cluster_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(error_code=int(code), error_message=code.message, brokers=[])


#: Kafka's max.request.partition.size.limit default: the most partitions one answer holds.
MAX_PARTITIONS_PER_ANSWER = 2000


async def describe_topic_partitions(
    core: BrokerCore, header: RequestHeader, req: Struct
) -> Struct:
    image = core.image
    live = await _live(core)
    names = sorted({t.name for t in req.topics}) if req.topics else image.topic_names()
    budget = max(1, min(req.response_partition_limit, MAX_PARTITIONS_PER_ANSWER))
    cursor = req.cursor
    topics: list[Struct] = []
    next_cursor = None
    for name in names:
        if cursor is not None and name < cursor.topic_name:
            continue
        first = cursor.partition_index if cursor is not None and name == cursor.topic_name else 0
        topic = image.topic(name)
        if topic is None:
            topics.append(_topic_error(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION))
            continue
        if budget == 0:
            next_cursor = Struct(topic_name=name, partition_index=first)
            break
        described = _describe_topic(core, topic, live)
        described.topic_authorized_operations = authorized_operations(core, 2, name)
        parts = [p for p in described.partitions if p.partition_index >= first]
        if len(parts) > budget:
            next_cursor = Struct(topic_name=name, partition_index=parts[budget].partition_index)
            parts = parts[:budget]
        described.partitions = parts
        budget -= len(parts)
        topics.append(described)
        if next_cursor is not None:
            break
    return Struct(throttle_time_ms=0, topics=topics, next_cursor=next_cursor)


def describe_topic_partitions_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(topics=[_topic_error(t.name, code) for t in req.topics])


HANDLERS = {
    ApiKey.DESCRIBE_TOPIC_PARTITIONS: Handler(describe_topic_partitions,
                                              describe_topic_partitions_fallback),
    ApiKey.API_VERSIONS: Handler(api_versions, api_versions_fallback),
    ApiKey.METADATA: Handler(metadata, metadata_fallback),
    ApiKey.DESCRIBE_CLUSTER: Handler(describe_cluster, describe_cluster_fallback),
}
