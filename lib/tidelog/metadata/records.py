"""Metadata records: the entries of the ``__cluster_metadata`` log, and their JSON encoding.

Each record is a frozen dataclass modelled on one of Apache Kafka's KRaft metadata records
(our own definitions, with snake_case fields). On disk a record is the value of one record in
an ordinary v2 record batch, encoded as one JSON object (orjson)::

    {"type": "partition", "version": 0, "topic_id": "<22-char base64url>", "partition": 0,
     "replicas": [1], "isr": [1], "leader": 1, "leader_epoch": 0, "partition_epoch": 0}

Invariants and compatibility rules:

* ``type`` names the record class (:data:`RECORD_TYPES`), ``version`` is at most the class's
  ``VERSION``. A change that older readers cannot ignore bumps ``VERSION``; adding an optional
  field (one with a default) does not, because readers ignore keys they do not know.
* Every field is checked on construction (``__post_init__``) and on decoding: type, integer
  range (int8/16/32/64 as in Kafka), UUID form, and the record's own consistency rules (for
  example the ISR is a subset of the replicas). Python code therefore cannot build a record
  that would fail to decode.
* Lists are tuples and UUIDs are :class:`uuid.UUID`, so records are hashable values.

Malformed input (bad JSON, unknown type, newer version, missing or mistyped field) raises
:class:`MetadataError` naming the record type and field; nothing else escapes.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from tidelog.metadata.errors import MetadataError
from tidelog.metadata.frames import decode_metadata, encode_metadata
from tidelog.metadata.uuids import uuid_from_str, uuid_to_str
from tidelog.protocol.messages.kraft import BY_NAME

# ---------------------------------------------------------------------------------------------
# Field kinds: how one field is checked, and converted between JSON and Python values.


class _Kind:
    """One field's type. ``load`` converts a JSON value, ``check`` validates a Python value."""

    nullable = False

    def load(self, value: object, where: str) -> Any:
        if value is None and self.nullable:
            return None
        return self._load(value, where)

    def dump(self, value: Any) -> object:
        return value

    def to_kafka(self, value: Any) -> Any:
        """The value as the codec of Kafka's schema takes it (lists, Structs)."""
        return value

    def from_kafka(self, value: Any) -> Any:
        """The Python value of a field the codec decoded."""
        return value

    def check(self, value: object, where: str) -> None:
        if value is None and self.nullable:
            return
        self._check(value, where)

    def _load(self, value: object, where: str) -> Any:
        self._check(value, where)
        return value

    def _check(self, value: object, where: str) -> None:
        raise NotImplementedError


class _Int(_Kind):
    def __init__(self, bits: int, minimum: int | None = None) -> None:
        self.bits = bits
        self.low = -(1 << (bits - 1)) if minimum is None else minimum
        self.high = (1 << (bits - 1)) - 1

    def _check(self, value: object, where: str) -> None:
        # bool is an int subclass in Python; JSON true is not a number.
        if not isinstance(value, int) or isinstance(value, bool):
            raise MetadataError(f"{where} must be an integer, not {type(value).__name__}")
        if not self.low <= value <= self.high:
            raise MetadataError(f"{where} = {value} is outside [{self.low}, {self.high}]")


class _Bool(_Kind):
    def _check(self, value: object, where: str) -> None:
        if not isinstance(value, bool):
            raise MetadataError(f"{where} must be a boolean, not {type(value).__name__}")


class _Str(_Kind):
    def __init__(self, *, nullable: bool = False, non_empty: bool = False) -> None:
        self.nullable = nullable
        self.non_empty = non_empty

    def _check(self, value: object, where: str) -> None:
        if not isinstance(value, str):
            raise MetadataError(f"{where} must be a string, not {type(value).__name__}")
        if self.non_empty and not value:
            raise MetadataError(f"{where} must not be empty")


class _Uuid(_Kind):
    def _load(self, value: object, where: str) -> uuid.UUID:
        if not isinstance(value, str):
            raise MetadataError(f"{where} must be a UUID string, not {type(value).__name__}")
        try:
            return uuid_from_str(value)
        except MetadataError as exc:
            raise MetadataError(f"{where}: {exc}") from None

    def dump(self, value: Any) -> object:
        return uuid_to_str(value)

    def _check(self, value: object, where: str) -> None:
        if not isinstance(value, uuid.UUID):
            raise MetadataError(f"{where} must be a uuid.UUID, not {type(value).__name__}")


class _Bytes(_Kind):
    """Bytes, as standard base64 text in JSON (salts and keys of SCRAM credentials)."""

    def _load(self, value: object, where: str) -> bytes:
        if not isinstance(value, str):
            raise MetadataError(f"{where} must be base64 text, not {type(value).__name__}")
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise MetadataError(f"{where} is not base64") from None

    def dump(self, value: Any) -> object:
        return base64.b64encode(value).decode("ascii")

    def _check(self, value: object, where: str) -> None:
        if not isinstance(value, bytes) or not value:
            raise MetadataError(f"{where} must be non-empty bytes")


class _IntList(_Kind):
    """A list of int32 broker ids: non-negative and distinct."""

    def __init__(self, *, nullable: bool = False) -> None:
        self.nullable = nullable
        self.item = _Int(32, minimum=0)

    def _load(self, value: object, where: str) -> tuple[int, ...]:
        if not isinstance(value, list):
            raise MetadataError(f"{where} must be a list, not {type(value).__name__}")
        result = tuple(value)
        self._check(result, where)
        return result

    def dump(self, value: Any) -> object:
        return None if value is None else list(value)

    to_kafka = dump

    def from_kafka(self, value: Any) -> Any:
        return None if value is None else tuple(value)

    def _check(self, value: object, where: str) -> None:
        if not isinstance(value, tuple):
            raise MetadataError(f"{where} must be a tuple, not {type(value).__name__}")
        for i, item in enumerate(value):
            self.item.check(item, f"{where}[{i}]")
        if len(set(value)) != len(value):
            raise MetadataError(f"{where} has duplicate entries: {list(value)}")


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoint:
    """One listener of a broker, as clients reach it."""

    name: str
    host: str
    port: int
    security_protocol: int = 0  # PLAINTEXT, Kafka's id 0

    def check(self, where: str) -> None:
        _Str(non_empty=True).check(self.name, f"{where}.name")
        _Str(non_empty=True).check(self.host, f"{where}.host")
        _Int(32, minimum=0).check(self.port, f"{where}.port")
        if self.port > 0xFFFF:
            raise MetadataError(f"{where}.port = {self.port} is not a TCP port")
        _Int(16, minimum=0).check(self.security_protocol, f"{where}.security_protocol")


class _Endpoints(_Kind):
    _FIELDS = ("name", "host", "port", "security_protocol")

    def _load(self, value: object, where: str) -> tuple[Endpoint, ...]:
        if not isinstance(value, list):
            raise MetadataError(f"{where} must be a list, not {type(value).__name__}")
        result = []
        for i, item in enumerate(value):
            at = f"{where}[{i}]"
            if not isinstance(item, dict):
                raise MetadataError(f"{at} must be an object, not {type(item).__name__}")
            for key in ("name", "host", "port"):
                if key not in item:
                    raise MetadataError(f"{at} lacks {key!r}")
            endpoint = Endpoint(
                item["name"], item["host"], item["port"], item.get("security_protocol", 0)
            )
            endpoint.check(at)
            result.append(endpoint)
        loaded = tuple(result)
        self._check(loaded, where)
        return loaded

    def dump(self, value: Any) -> object:
        return [{k: getattr(e, k) for k in self._FIELDS} for e in value]

    to_kafka = dump

    def from_kafka(self, value: Any) -> Any:
        return tuple(Endpoint(e.name, e.host, e.port, e.security_protocol) for e in value)

    def _check(self, value: object, where: str) -> None:
        if not isinstance(value, tuple):
            raise MetadataError(f"{where} must be a tuple, not {type(value).__name__}")
        for i, item in enumerate(value):
            if not isinstance(item, Endpoint):
                raise MetadataError(f"{where}[{i}] must be an Endpoint")
            item.check(f"{where}[{i}]")
        names = [e.name for e in value]
        if len(set(names)) != len(names):
            raise MetadataError(f"{where} has duplicate listener names: {names}")


class _Float(_Kind):
    def _load(self, value: object, where: str) -> float:
        if isinstance(value, int) and not isinstance(value, bool):
            value = float(value)  # JSON writes 1024.0 as it likes
        self._check(value, where)
        return float(value)  # type: ignore[arg-type]

    def _check(self, value: object, where: str) -> None:
        if not isinstance(value, float) or value != value:
            raise MetadataError(f"{where} must be a number, not {type(value).__name__}")


#: Client quota entity types (Kafka's ClientQuotaEntity), in their canonical order.
QUOTA_ENTITY_TYPES = ("client-id", "ip", "user")

#: A client quota entity: (type, name) pairs sorted by type; a None name is the default.
QuotaEntity = tuple[tuple[str, str | None], ...]


class _QuotaEntity(_Kind):
    """A quota entity: JSON ``[[type, name-or-null], ...]``, Kafka's ``[{entity_type,
    entity_name}]``."""

    def _load(self, value: object, where: str) -> QuotaEntity:
        if not isinstance(value, list) or not all(
                isinstance(p, list) and len(p) == 2 for p in value):
            raise MetadataError(f"{where} must be a list of [type, name] pairs")
        entity = tuple((p[0], p[1]) for p in value)
        self._check(entity, where)
        return entity

    def dump(self, value: Any) -> object:
        return [list(p) for p in value]

    def to_kafka(self, value: Any) -> Any:
        return [{"entity_type": t, "entity_name": n} for t, n in value]

    def from_kafka(self, value: Any) -> Any:
        # Kafka's writers list the types in any order; tidelog's entity is sorted by type.
        return tuple(sorted((e.entity_type, e.entity_name) for e in value))

    def _check(self, value: object, where: str) -> None:
        if not isinstance(value, tuple) or not value:
            raise MetadataError(f"{where} must be a non-empty tuple of (type, name) pairs")
        types = [p[0] for p in value]
        if types != sorted(set(types)) or not set(types) <= set(QUOTA_ENTITY_TYPES):
            raise MetadataError(f"{where}: entity types {types} are not distinct known types "
                                "in order")
        for _, name in value:
            _Str(nullable=True, non_empty=True).check(name, where)


INT8, INT16, INT32, INT64 = _Int(8), _Int(16), _Int(32), _Int(64)
BROKER_ID = _Int(32, minimum=0)
PARTITION_ID = _Int(32, minimum=0)
EPOCH = _Int(32, minimum=-1)
STRING = _Str()
NAME = _Str(non_empty=True)
NULLABLE_STRING = _Str(nullable=True)
UUID = _Uuid()
BOOL = _Bool()
BROKER_IDS = _IntList()
NULLABLE_BROKER_IDS = _IntList(nullable=True)
ENDPOINTS = _Endpoints()
BYTES = _Bytes()
FLOAT64 = _Float()
QUOTA_ENTITY = _QuotaEntity()

# ---------------------------------------------------------------------------------------------
# Records.

#: Kafka's ConfigResource types that metadata records may carry.
RESOURCE_TOPIC = 2
RESOURCE_BROKER = 4

#: PartitionChangeRecord.leader values with a special meaning (as in Kafka).
NO_LEADER = -1
NO_LEADER_CHANGE = -2


class MetadataRecord:
    """Base of every record type. Subclasses are frozen dataclasses that declare:

    ``TYPE`` (the JSON tag), ``VERSION`` (the newest JSON version this code writes and reads),
    ``SCHEMA`` (field name -> kind, in declaration order) and ``KAFKA_RECORD`` (the Kafka
    record it is stored as).
    """

    __slots__ = ()
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 0
    SCHEMA: ClassVar[Mapping[str, _Kind]]
    #: the Kafka record type (a schema of tidelog.protocol.messages.kraft) and its version
    #: this record is written as; fields keep their names there unless KAFKA_NAMES renames
    KAFKA_RECORD: ClassVar[str]
    KAFKA_VERSION: ClassVar[int] = 0
    KAFKA_NAMES: ClassVar[Mapping[str, str]] = {}

    def __post_init__(self) -> None:
        for name, kind in self.SCHEMA.items():
            kind.check(getattr(self, name), f"{self.TYPE}.{name}")
        self.validate()

    def validate(self) -> None:
        """Consistency rules across fields; raise MetadataError. Default: none."""

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"type": self.TYPE, "version": self.VERSION}
        for name, kind in self.SCHEMA.items():
            out[name] = kind.dump(getattr(self, name))
        return out


def _fields_of(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


@dataclasses.dataclass(frozen=True, slots=True)
class ClusterIdRecord(MetadataRecord):
    """Names the cluster; written once, first, when the metadata log is formatted."""

    TYPE = "cluster_id"
    KAFKA_RECORD = "NoOpRecord"
    KAFKA_NAMES = {"cluster_id": "tidelog_cluster_id"}
    SCHEMA = {"cluster_id": NAME}
    cluster_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class TopicRecord(MetadataRecord):
    """A topic exists with this name and id (its partitions follow in the same batch)."""

    TYPE = "topic"
    KAFKA_RECORD = "TopicRecord"
    SCHEMA = {"name": NAME, "topic_id": UUID}
    name: str
    topic_id: uuid.UUID


def check_assignment(
    where: str, replicas: tuple[int, ...], isr: tuple[int, ...], leader: int
) -> None:
    if not replicas:
        raise MetadataError(f"{where}: replicas must not be empty")
    if not set(isr) <= set(replicas):
        raise MetadataError(
            f"{where}: isr {list(isr)} is not a subset of replicas {list(replicas)}"
        )
    if leader != NO_LEADER and leader not in isr:
        raise MetadataError(f"{where}: leader {leader} is not in the isr {list(isr)}")


@dataclasses.dataclass(frozen=True, slots=True)
class PartitionRecord(MetadataRecord):
    """A partition's full state: replicas (preferred order), ISR, leader and epochs."""

    TYPE = "partition"
    KAFKA_RECORD = "PartitionRecord"
    KAFKA_NAMES = {"partition": "partition_id"}
    SCHEMA = {
        "topic_id": UUID,
        "partition": PARTITION_ID,
        "replicas": BROKER_IDS,
        "isr": BROKER_IDS,
        "leader": EPOCH,  # -1 or a broker id
        "leader_epoch": EPOCH,
        "partition_epoch": EPOCH,
        "removing_replicas": BROKER_IDS,
        "adding_replicas": BROKER_IDS,
    }
    topic_id: uuid.UUID
    partition: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int = NO_LEADER
    leader_epoch: int = 0
    partition_epoch: int = 0
    removing_replicas: tuple[int, ...] = ()
    adding_replicas: tuple[int, ...] = ()

    def validate(self) -> None:
        check_assignment(f"partition {self.partition}", self.replicas, self.isr, self.leader)


@dataclasses.dataclass(frozen=True, slots=True)
class PartitionChangeRecord(MetadataRecord):
    """A change to an existing partition; a field left at None (leader: -2) is unchanged.

    Applying it bumps the partition epoch, and the leader epoch when the leader changes.
    """

    TYPE = "partition_change"
    KAFKA_RECORD = "PartitionChangeRecord"
    KAFKA_NAMES = {"partition": "partition_id"}
    SCHEMA = {
        "topic_id": UUID,
        "partition": PARTITION_ID,
        "isr": NULLABLE_BROKER_IDS,
        "leader": _Int(32, minimum=NO_LEADER_CHANGE),
        "replicas": NULLABLE_BROKER_IDS,
        "removing_replicas": NULLABLE_BROKER_IDS,
        "adding_replicas": NULLABLE_BROKER_IDS,
    }
    topic_id: uuid.UUID
    partition: int
    isr: tuple[int, ...] | None = None
    leader: int = NO_LEADER_CHANGE
    replicas: tuple[int, ...] | None = None
    removing_replicas: tuple[int, ...] | None = None
    adding_replicas: tuple[int, ...] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class RemoveTopicRecord(MetadataRecord):
    """The topic, its partitions and its config overrides are gone."""

    TYPE = "remove_topic"
    KAFKA_RECORD = "RemoveTopicRecord"
    SCHEMA = {"topic_id": UUID}
    topic_id: uuid.UUID


@dataclasses.dataclass(frozen=True, slots=True)
class ConfigRecord(MetadataRecord):
    """Set (or, with ``value`` None, delete) one config of a topic or broker.

    ``resource_type`` is Kafka's: 2 topic, 4 broker. A broker resource name of ``""`` is the
    cluster-wide default, otherwise it is the broker id as text.
    """

    TYPE = "config"
    KAFKA_RECORD = "ConfigRecord"
    SCHEMA = {
        "resource_type": INT8,
        "resource_name": STRING,
        "name": NAME,
        "value": NULLABLE_STRING,
    }
    resource_type: int
    resource_name: str
    name: str
    value: str | None

    def validate(self) -> None:
        if self.resource_type == RESOURCE_TOPIC:
            if not self.resource_name:
                raise MetadataError("config: a topic config needs the topic's name")
        elif self.resource_type == RESOURCE_BROKER:
            if self.resource_name and not (
                self.resource_name.isascii() and self.resource_name.isdigit()
            ):
                raise MetadataError(
                    f"config: broker resource name {self.resource_name!r} is neither '' nor an id"
                )
        else:
            raise MetadataError(
                f"config: resource_type {self.resource_type} is neither 2 (topic) nor 4 (broker)"
            )


@dataclasses.dataclass(frozen=True, slots=True)
class RegisterBrokerRecord(MetadataRecord):
    """A broker (re)registers: its listeners, rack and incarnation (one per process start)."""

    TYPE = "register_broker"
    KAFKA_RECORD = "RegisterBrokerRecord"
    KAFKA_NAMES = {"endpoints": "end_points"}
    SCHEMA = {
        "broker_id": BROKER_ID,
        "incarnation_id": UUID,
        "broker_epoch": INT64,
        "endpoints": ENDPOINTS,
        "rack": NULLABLE_STRING,
        "fenced": BOOL,
    }
    broker_id: int
    incarnation_id: uuid.UUID
    broker_epoch: int = 0
    endpoints: tuple[Endpoint, ...] = ()
    rack: str | None = None
    fenced: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class UnregisterBrokerRecord(MetadataRecord):
    """The broker is removed from the cluster."""

    TYPE = "unregister_broker"
    KAFKA_RECORD = "UnregisterBrokerRecord"
    SCHEMA = {"broker_id": BROKER_ID, "broker_epoch": INT64}
    broker_id: int
    broker_epoch: int = -1


@dataclasses.dataclass(frozen=True, slots=True)
class ProducerIdsRecord(MetadataRecord):
    """A block of producer ids was handed to ``broker_id``; ids below ``next_producer_id`` are
    taken for good (the next block starts there)."""

    TYPE = "producer_ids"
    KAFKA_RECORD = "ProducerIdsRecord"
    SCHEMA = {
        "broker_id": BROKER_ID,
        "next_producer_id": _Int(64, minimum=0),
        "broker_epoch": INT64,
    }
    broker_id: int
    next_producer_id: int
    broker_epoch: int = -1


@dataclasses.dataclass(frozen=True, slots=True)
class FeatureLevelRecord(MetadataRecord):
    """The finalized level of a feature (``metadata.version``, ...); level 0 removes it."""

    TYPE = "feature_level"
    KAFKA_RECORD = "FeatureLevelRecord"
    SCHEMA = {"name": NAME, "feature_level": _Int(16, minimum=0)}
    name: str
    feature_level: int


@dataclasses.dataclass(frozen=True, slots=True)
class NoOpRecord(MetadataRecord):
    """Carries nothing; a leader writes one to commit an empty batch (Raft's no-op entry)."""

    TYPE = "no_op"
    KAFKA_RECORD = "NoOpRecord"
    SCHEMA: ClassVar[Mapping[str, _Kind]] = {}


#: Kafka's ScramMechanism ids.
SCRAM_MECHANISMS = {1: "SCRAM-SHA-256", 2: "SCRAM-SHA-512"}


@dataclasses.dataclass(frozen=True, slots=True)
class UserScramCredentialRecord(MetadataRecord):
    """A user's SCRAM credential for one mechanism (RFC 5802's salted form: the password is
    never stored, only ``salt``, ``iterations``, StoredKey and ServerKey)."""

    TYPE = "user_scram_credential"
    KAFKA_RECORD = "UserScramCredentialRecord"
    SCHEMA = {
        "name": NAME,
        "mechanism": _Int(8, minimum=1),
        "salt": BYTES,
        "stored_key": BYTES,
        "server_key": BYTES,
        "iterations": _Int(32, minimum=1),
    }
    name: str
    mechanism: int
    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int

    def validate(self) -> None:
        if self.mechanism not in SCRAM_MECHANISMS:
            raise MetadataError(f"user_scram_credential: unknown mechanism {self.mechanism}")


@dataclasses.dataclass(frozen=True, slots=True)
class RemoveUserScramCredentialRecord(MetadataRecord):
    """A user's SCRAM credential for one mechanism is removed."""

    TYPE = "remove_user_scram_credential"
    KAFKA_RECORD = "RemoveUserScramCredentialRecord"
    SCHEMA = {"name": NAME, "mechanism": _Int(8, minimum=1)}
    name: str
    mechanism: int


@dataclasses.dataclass(frozen=True, slots=True)
class AccessControlEntryRecord(MetadataRecord):
    """One ACL, with Kafka's codes: resource type (2 topic, 3 group, 4 cluster, 5
    transactional id), pattern type (3 literal, 4 prefixed), operation (2 all, 3 read, ...)
    and permission (2 deny, 3 allow). ``acl_id`` names it for removal."""

    TYPE = "access_control_entry"
    KAFKA_RECORD = "AccessControlEntryRecord"
    KAFKA_NAMES = {"acl_id": "id"}
    SCHEMA = {
        "acl_id": UUID,
        "resource_type": INT8,
        "resource_name": NAME,
        "pattern_type": INT8,
        "principal": NAME,
        "host": NAME,
        "operation": INT8,
        "permission_type": INT8,
    }
    acl_id: uuid.UUID
    resource_type: int
    resource_name: str
    pattern_type: int
    principal: str
    host: str
    operation: int
    permission_type: int

    def validate(self) -> None:
        if self.resource_type not in (2, 3, 4, 5) or self.pattern_type not in (3, 4):
            raise MetadataError("access_control_entry: unknown resource or pattern type")
        if not 2 <= self.operation <= 14 or self.permission_type not in (2, 3):
            raise MetadataError("access_control_entry: unknown operation or permission")


@dataclasses.dataclass(frozen=True, slots=True)
class RemoveAccessControlEntryRecord(MetadataRecord):
    """The ACL ``acl_id`` is removed."""

    TYPE = "remove_access_control_entry"
    KAFKA_RECORD = "RemoveAccessControlEntryRecord"
    KAFKA_NAMES = {"acl_id": "id"}
    SCHEMA = {"acl_id": UUID}
    acl_id: uuid.UUID


# -- records Kafka's controllers write and tidelog reads (found in a Kafka data dir) ------


@dataclasses.dataclass(frozen=True, slots=True)
class FenceBrokerRecord(MetadataRecord):
    """Kafka's: the broker (of that epoch) is fenced."""

    TYPE = "fence_broker"
    KAFKA_RECORD = "FenceBrokerRecord"
    KAFKA_NAMES = {"broker_id": "id", "broker_epoch": "epoch"}
    SCHEMA = {"broker_id": BROKER_ID, "broker_epoch": INT64}
    broker_id: int
    broker_epoch: int


@dataclasses.dataclass(frozen=True, slots=True)
class UnfenceBrokerRecord(MetadataRecord):
    """Kafka's: the broker (of that epoch) is unfenced."""

    TYPE = "unfence_broker"
    KAFKA_RECORD = "UnfenceBrokerRecord"
    KAFKA_NAMES = {"broker_id": "id", "broker_epoch": "epoch"}
    SCHEMA = {"broker_id": BROKER_ID, "broker_epoch": INT64}
    broker_id: int
    broker_epoch: int


@dataclasses.dataclass(frozen=True, slots=True)
class BrokerRegistrationChangeRecord(MetadataRecord):
    """Kafka's change of a registration: ``fenced`` 1 fences, -1 unfences, 0 leaves it;
    ``in_controlled_shutdown`` 1 marks a broker shutting down (tidelog keeps no such flag)."""

    TYPE = "broker_registration_change"
    KAFKA_RECORD = "BrokerRegistrationChangeRecord"
    KAFKA_VERSION = 1
    SCHEMA = {
        "broker_id": BROKER_ID,
        "broker_epoch": INT64,
        "fenced": _Int(8, minimum=-1),
        "in_controlled_shutdown": _Int(8, minimum=0),
    }
    broker_id: int
    broker_epoch: int
    fenced: int = 0
    in_controlled_shutdown: int = 0

    def validate(self) -> None:
        if self.fenced > 1 or self.in_controlled_shutdown > 1:
            raise MetadataError("broker_registration_change: fenced is -1, 0 or 1, "
                                "in_controlled_shutdown 0 or 1")


@dataclasses.dataclass(frozen=True, slots=True)
class RegisterControllerRecord(MetadataRecord):
    """Kafka's registration of a controller (its listeners); no effect on tidelog's image."""

    TYPE = "register_controller"
    KAFKA_RECORD = "RegisterControllerRecord"
    KAFKA_NAMES = {"endpoints": "end_points"}
    SCHEMA = {"controller_id": BROKER_ID, "incarnation_id": UUID, "endpoints": ENDPOINTS}
    controller_id: int
    incarnation_id: uuid.UUID
    endpoints: tuple[Endpoint, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class ZkMigrationStateRecord(MetadataRecord):
    """Kafka's ZooKeeper migration state (0: none); no effect on tidelog's image."""

    TYPE = "zk_migration_state"
    KAFKA_RECORD = "ZkMigrationStateRecord"
    SCHEMA = {"zk_migration_state": INT8}
    zk_migration_state: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class BeginTransactionRecord(MetadataRecord):
    """Kafka's start of records that span several batches but apply together (KIP-868)."""

    TYPE = "begin_transaction"
    KAFKA_RECORD = "BeginTransactionRecord"
    SCHEMA = {"name": NULLABLE_STRING}
    name: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class EndTransactionRecord(MetadataRecord):
    """Kafka's end of a metadata transaction: the records since its begin stand."""

    TYPE = "end_transaction"
    KAFKA_RECORD = "EndTransactionRecord"
    SCHEMA: ClassVar[Mapping[str, _Kind]] = {}


@dataclasses.dataclass(frozen=True, slots=True)
class AbortTransactionRecord(MetadataRecord):
    """Kafka's abort of a metadata transaction: the records since its begin are void."""

    TYPE = "abort_transaction"
    KAFKA_RECORD = "AbortTransactionRecord"
    SCHEMA = {"reason": NULLABLE_STRING}
    reason: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ClientQuotaRecord(MetadataRecord):
    """A client quota of ``entity`` is set to ``value`` (Kafka's ClientQuotaRecord), or removed
    with ``remove``. Keys are Kafka's: producer_byte_rate, consumer_byte_rate (bytes per
    second), request_percentage (percent of one request handler)."""

    TYPE = "client_quota"
    KAFKA_RECORD = "ClientQuotaRecord"
    SCHEMA = {"entity": QUOTA_ENTITY, "key": NAME, "value": FLOAT64, "remove": BOOL}
    entity: QuotaEntity
    key: str
    value: float = 0.0
    remove: bool = False


RECORD_TYPES: Mapping[str, type[MetadataRecord]] = {
    cls.TYPE: cls
    for cls in (
        ClusterIdRecord,
        TopicRecord,
        PartitionRecord,
        PartitionChangeRecord,
        RemoveTopicRecord,
        ConfigRecord,
        RegisterBrokerRecord,
        UnregisterBrokerRecord,
        ProducerIdsRecord,
        FeatureLevelRecord,
        NoOpRecord,
        UserScramCredentialRecord,
        RemoveUserScramCredentialRecord,
        AccessControlEntryRecord,
        RemoveAccessControlEntryRecord,
        FenceBrokerRecord,
        UnfenceBrokerRecord,
        BrokerRegistrationChangeRecord,
        RegisterControllerRecord,
        ZkMigrationStateRecord,
        BeginTransactionRecord,
        EndTransactionRecord,
        AbortTransactionRecord,
        ClientQuotaRecord,
    )
}

# Which fields each type may omit (those with defaults); computed once, not per record.
_REQUIRED: dict[str, frozenset[str]] = {
    tag: frozenset(
        f.name
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )
    for tag, cls in RECORD_TYPES.items()
}


# ---------------------------------------------------------------------------------------------
# Encoding.


def encode_record(record: MetadataRecord) -> bytes:
    """Kafka's bytes of ``record``: the value stored in the metadata log and in snapshots."""
    cls = type(record)
    names = cls.KAFKA_NAMES
    body = {names.get(name, name): kind.to_kafka(getattr(record, name))
            for name, kind in cls.SCHEMA.items()}
    return encode_metadata(BY_NAME[cls.KAFKA_RECORD].api_key, cls.KAFKA_VERSION, body)


def decode_record(data: bytes | bytearray | memoryview) -> MetadataRecord:
    """Parse Kafka's bytes of a metadata record; raise MetadataError on anything malformed
    or on a Kafka record type tidelog does not keep (naming it)."""
    rs, _version, body = decode_metadata(data)
    cls = _BY_KAFKA.get(rs.name)
    if cls is None:
        raise MetadataError(f"Kafka's {rs.name} is not supported by tidelog")
    if cls is NoOpRecord and body.tidelog_cluster_id is not None:
        cls = ClusterIdRecord
    names = cls.KAFKA_NAMES
    values = body.__dict__
    # every field is checked by the record's __post_init__ (a MetadataError naming it)
    record: MetadataRecord = cls(**{
        name: kind.from_kafka(values[names.get(name, name)])
        for name, kind in cls.SCHEMA.items()})
    return record


def encode_json_record(record: MetadataRecord) -> bytes:
    """The JSON bytes of ``record``: how tidelog stored records before it used Kafka's format
    (read by the conversion of an old data dir; tests and tools may still print it)."""
    return orjson.dumps(record.to_json())


def record_from_json(obj: object) -> MetadataRecord:
    """Build a record from an already-parsed JSON value; raise MetadataError if malformed."""
    if not isinstance(obj, dict):
        raise MetadataError(f"a metadata record must be a JSON object, not {type(obj).__name__}")
    tag = obj.get("type")
    if not isinstance(tag, str):
        raise MetadataError("metadata record has no string 'type'")
    cls = RECORD_TYPES.get(tag)
    if cls is None:
        raise MetadataError(f"unknown metadata record type {tag!r}")
    version = obj.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise MetadataError(f"{tag}: 'version' must be a non-negative integer, not {version!r}")
    if version > cls.VERSION:
        raise MetadataError(
            f"{tag}: version {version} is newer than the {cls.VERSION} this tidelog reads"
        )
    missing = _REQUIRED[tag] - obj.keys()
    if missing:
        raise MetadataError(f"{tag}: missing field(s) {', '.join(sorted(missing))}")
    kwargs: dict[str, Any] = {}
    for name, kind in cls.SCHEMA.items():
        if name in obj:
            kwargs[name] = kind.load(obj[name], f"{tag}.{name}")
    # Keys we do not know are optional fields of a newer writer: ignored on purpose.
    record: MetadataRecord = cls(**kwargs)
    return record


def decode_json_record(data: bytes | bytearray | memoryview | str) -> MetadataRecord:
    """Parse the JSON form (:func:`encode_json_record`); raise MetadataError if malformed."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise MetadataError(f"metadata record is not valid JSON: {exc}") from None
    return record_from_json(obj)


#: tidelog's record class for each Kafka record type it keeps (NoOpRecord: see decode_record).
_BY_KAFKA: dict[str, type[MetadataRecord]] = {
    cls.KAFKA_RECORD: cls for cls in RECORD_TYPES.values() if cls is not ClusterIdRecord
}


def _self_check() -> None:
    # A record class whose SCHEMA and dataclass fields disagree is a programming error; catch
    # it at import rather than at the first record of that type.
    for cls in RECORD_TYPES.values():
        if set(cls.SCHEMA) != _fields_of(cls):
            raise AssertionError(f"{cls.__name__}: SCHEMA does not match its fields")
        kafka = BY_NAME[cls.KAFKA_RECORD]
        lo, hi = kafka.versions
        present = {fl.name for fl in kafka.body.fields
                   if fl.versions[0] <= cls.KAFKA_VERSION <= fl.versions[1]}
        lacking = {cls.KAFKA_NAMES.get(n, n) for n in cls.SCHEMA} - present
        if not lo <= cls.KAFKA_VERSION <= hi or lacking:
            raise AssertionError(f"{cls.__name__}: {kafka.name} v{cls.KAFKA_VERSION} lacks "
                                 f"{sorted(lacking)}")


_self_check()
