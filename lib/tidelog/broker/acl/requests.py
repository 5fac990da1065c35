"""What each request needs the authorizer to allow: (operation, resource type, name) triples,
read from the decoded request, and the error a refusal carries.

Kafka checks per resource and answers allowed and refused entries side by side; tidelog
refuses a request as a whole when any resource it names is refused (the handler's fallback
answer, every entry carrying the error), which is the same answer for the one-resource
requests clients send, and stricter for mixed ones. Metadata, ListGroups and
DescribeTopicPartitions are filtered instead (see :mod:`tidelog.broker.sasl.dispatch`).
APIs not listed (ApiVersions, the SASL exchange, DescribeCluster) need nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from tidelog.broker.acl.authorizer import (
    ALTER,
    ALTER_CONFIGS,
    CLUSTER,
    CLUSTER_ACTION,
    CLUSTER_NAME,
    CREATE,
    DELETE,
    DESCRIBE,
    DESCRIBE_CONFIGS,
    GROUP,
    IDEMPOTENT_WRITE,
    READ,
    TOPIC,
    TRANSACTIONAL_ID,
    WRITE,
)
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode

Check = tuple[int, int, str]
#: Topic ids of newer versions are named by this lookup (None: unknown, nothing to check).
NameOf = Callable[[object], str | None]

ERRORS = {
    TOPIC: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
    GROUP: ErrorCode.GROUP_AUTHORIZATION_FAILED,
    CLUSTER: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
    TRANSACTIONAL_ID: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
}
_CLUSTER = (CLUSTER, CLUSTER_NAME)


def _topic(t: Struct, name_of: NameOf, field: str = "name") -> str:
    name = getattr(t, field, None)
    if not name and getattr(t, "topic_id", None) is not None:
        name = name_of(t.topic_id)
    return str(name or "")


def _topics(op: int, field: str = "name") -> Callable[[Struct, int, NameOf], list[Check]]:
    def checks(req: Struct, version: int, name_of: NameOf) -> list[Check]:
        return [(op, TOPIC, _topic(t, name_of, field)) for t in req.topics or []]
    return checks


def _cluster(op: int) -> Callable[[Struct, int, NameOf], list[Check]]:
    return lambda req, version, name_of: [(op, *_CLUSTER)]


def _group(op: int) -> Callable[[Struct, int, NameOf], list[Check]]:
    return lambda req, version, name_of: [(op, GROUP, req.group_id)]


def _produce(req: Struct, version: int, name_of: NameOf) -> list[Check]:
    checks = [(WRITE, TOPIC, _topic(t, name_of)) for t in req.topic_data]
    if req.transactional_id is not None:
        checks.append((WRITE, TRANSACTIONAL_ID, req.transactional_id))
    return checks


def _fetch(req: Struct, version: int, name_of: NameOf) -> list[Check]:
    state = getattr(req, "replica_state", None)
    replica = state.replica_id if version >= 15 and state is not None else req.replica_id
    if replica is not None and replica >= 0:
        return [(CLUSTER_ACTION, *_CLUSTER)]
    return [(READ, TOPIC, _topic(t, name_of, "topic")) for t in req.topics]


def _offset_commit(req: Struct, version: int, name_of: NameOf) -> list[Check]:
    return [(READ, GROUP, req.group_id),
            *((READ, TOPIC, _topic(t, name_of)) for t in req.topics)]


def _offset_fetch(req: Struct, version: int, name_of: NameOf) -> list[Check]:
    groups = [g.group_id for g in req.groups or []] if version >= 8 else [req.group_id]
    return [(DESCRIBE, GROUP, g) for g in groups]


def _find_coordinator(req: Struct, version: int, name_of: NameOf) -> list[Check]:
    keys = list(req.coordinator_keys or []) if version >= 4 else [req.key]
    rtype = TRANSACTIONAL_ID if req.key_type == 1 else GROUP
    return [(DESCRIBE, rtype, k) for k in keys]


def _create_topics(req: Struct, version: int, name_of: NameOf) -> list[Check]:
    # CREATE on the cluster or on the topic: checked as "either" by the dispatcher
    return [(CREATE, TOPIC, t.name) for t in req.topics]


def _delete_topics(req: Struct, version: int, name_of: NameOf) -> list[Check]:
    names = [_topic(t, name_of) for t in req.topics or []] if version >= 6 else list(
        req.topic_names or [])
    return [(DELETE, TOPIC, n) for n in names]


def _init_producer_id(req: Struct, version: int, name_of: NameOf) -> list[Check]:
    if req.transactional_id is not None:
        return [(WRITE, TRANSACTIONAL_ID, req.transactional_id)]
    return [(IDEMPOTENT_WRITE, *_CLUSTER)]


def _offset_for_leader_epoch(req: Struct, version: int, name_of: NameOf) -> list[Check]:
    if req.replica_id is not None and req.replica_id >= 0:
        return [(CLUSTER_ACTION, *_CLUSTER)]
    return [(DESCRIBE, TOPIC, t.topic) for t in req.topics]


def _configs(op: int) -> Callable[[Struct, int, NameOf], list[Check]]:
    def checks(req: Struct, version: int, name_of: NameOf) -> list[Check]:
        return [(op, TOPIC, r.resource_name) if r.resource_type == 2 else (op, *_CLUSTER)
                for r in req.resources]
    return checks


def _groups(op: int, field: str) -> Callable[[Struct, int, NameOf], list[Check]]:
    return lambda req, version, name_of: [(op, GROUP, g) for g in getattr(req, field) or []]


def _offset_delete(req: Struct, version: int, name_of: NameOf) -> list[Check]:
    return [(DELETE, GROUP, req.group_id), *((READ, TOPIC, t.name) for t in req.topics)]


def _add_partitions_to_txn(req: Struct, version: int, name_of: NameOf) -> list[Check]:
    if version <= 3:
        txns = [(req.v3_and_below_transactional_id, req.v3_and_below_topics or [])]
    else:
        txns = [(t.transactional_id, t.topics) for t in req.transactions or []]
    return [check for txn, topics in txns for check in (
        (WRITE, TRANSACTIONAL_ID, txn), *((WRITE, TOPIC, t.name) for t in topics))]


def _txn_group(req: Struct, version: int, name_of: NameOf) -> list[Check]:
    return [(WRITE, TRANSACTIONAL_ID, req.transactional_id), (READ, GROUP, req.group_id)]


def _txn(req: Struct, version: int, name_of: NameOf) -> list[Check]:
    return [(WRITE, TRANSACTIONAL_ID, req.transactional_id)]


K = ApiKey
CHECKS: dict[ApiKey, Callable[[Struct, int, NameOf], list[Check]]] = {
    K.PRODUCE: _produce,
    K.FETCH: _fetch,
    K.LIST_OFFSETS: _topics(DESCRIBE),
    K.OFFSET_COMMIT: _offset_commit,
    K.OFFSET_FETCH: _offset_fetch,
    K.FIND_COORDINATOR: _find_coordinator,
    K.JOIN_GROUP: _group(READ),
    K.HEARTBEAT: _group(READ),
    K.LEAVE_GROUP: _group(READ),
    K.SYNC_GROUP: _group(READ),
    K.DESCRIBE_GROUPS: _groups(DESCRIBE, "groups"),
    K.CREATE_TOPICS: _create_topics,
    K.DELETE_TOPICS: _delete_topics,
    K.DELETE_RECORDS: _topics(DELETE),
    K.INIT_PRODUCER_ID: _init_producer_id,
    K.OFFSET_FOR_LEADER_EPOCH: _offset_for_leader_epoch,
    K.DESCRIBE_ACLS: _cluster(DESCRIBE),
    K.CREATE_ACLS: _cluster(ALTER),
    K.DELETE_ACLS: _cluster(ALTER),
    K.DESCRIBE_CONFIGS: _configs(DESCRIBE_CONFIGS),
    K.ALTER_CONFIGS: _configs(ALTER_CONFIGS),
    K.INCREMENTAL_ALTER_CONFIGS: _configs(ALTER_CONFIGS),
    K.DESCRIBE_LOG_DIRS: _cluster(DESCRIBE),
    K.CREATE_PARTITIONS: _topics(ALTER),
    K.DELETE_GROUPS: _groups(DELETE, "groups_names"),
    K.OFFSET_DELETE: _offset_delete,
    K.DESCRIBE_CLIENT_QUOTAS: _cluster(DESCRIBE_CONFIGS),
    K.ALTER_CLIENT_QUOTAS: _cluster(ALTER_CONFIGS),
    K.DESCRIBE_USER_SCRAM_CREDENTIALS: _cluster(DESCRIBE),
    K.ALTER_USER_SCRAM_CREDENTIALS: _cluster(ALTER),
    K.DESCRIBE_QUORUM: _cluster(DESCRIBE),
    K.ADD_PARTITIONS_TO_TXN: _add_partitions_to_txn,
    K.ADD_OFFSETS_TO_TXN: _txn_group,
    K.END_TXN: _txn,
    K.TXN_OFFSET_COMMIT: _txn_group,
    K.WRITE_TXN_MARKERS: _cluster(CLUSTER_ACTION),
    K.DESCRIBE_TRANSACTIONS: lambda req, version, name_of: [
        (DESCRIBE, TRANSACTIONAL_ID, t) for t in req.transactional_ids or []],
    # stricter than Kafka (which lists the ids the principal may describe)
    K.LIST_TRANSACTIONS: _cluster(DESCRIBE),
    K.ELECT_LEADERS: _cluster(ALTER),
    K.ALTER_PARTITION_REASSIGNMENTS: _cluster(ALTER),
    K.LIST_PARTITION_REASSIGNMENTS: _cluster(DESCRIBE),
}
