"""The metadata image: the cluster state that replaying the metadata log builds.

Model (chosen over a mutable object): a :class:`MetadataImage` is an immutable value. Its maps
are read-only views (``MappingProxyType``) and its entries are frozen dataclasses, so a request
handler can hold an image across ``await`` points and never see it change under it. Changes go
through a :class:`MetadataDelta`: it starts from an image, takes records one at a time with
:meth:`MetadataDelta.replay`, copies a map only the first time it writes to it (copy on write,
so a batch that touches one topic does not copy every partition of every other topic) and
builds the next image with :meth:`MetadataDelta.apply`. ``image.apply(record)`` is the one-record
shorthand; replaying a log feeds one delta with many records.

Invariants the delta enforces (a record that would break one raises MetadataError and leaves
the delta unusable: build a new one from the last good image):

* topic names and topic ids are unique; every partition belongs to an existing topic;
* a topic's partitions are numbered 0..n-1 without gaps (PartitionRecords come in order);
* each partition's ISR is a subset of its replicas and the leader is in the ISR (or -1);
* topic config overrides exist only for existing topics and vanish with them;
* ``next_producer_id`` only grows; the cluster id, once set, never changes.

This module is pure: no I/O, no clock.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from tidelog.metadata.errors import MetadataError
from tidelog.metadata.records import (
    NO_LEADER,
    NO_LEADER_CHANGE,
    RESOURCE_TOPIC,
    AbortTransactionRecord,
    AccessControlEntryRecord,
    BeginTransactionRecord,
    BrokerRegistrationChangeRecord,
    ClientQuotaRecord,
    ClusterIdRecord,
    ConfigRecord,
    Endpoint,
    EndTransactionRecord,
    FeatureLevelRecord,
    FenceBrokerRecord,
    MetadataRecord,
    NoOpRecord,
    PartitionChangeRecord,
    PartitionRecord,
    ProducerIdsRecord,
    QuotaEntity,
    RegisterBrokerRecord,
    RegisterControllerRecord,
    RemoveAccessControlEntryRecord,
    RemoveTopicRecord,
    RemoveUserScramCredentialRecord,
    TopicRecord,
    UnfenceBrokerRecord,
    UnregisterBrokerRecord,
    UserScramCredentialRecord,
    ZkMigrationStateRecord,
    check_assignment,
)
from tidelog.metadata.uuids import uuid_to_str
from tidelog.storage.config import LogConfig

K = TypeVar("K")
V = TypeVar("V")


def _frozen(d: dict[K, V]) -> Mapping[K, V]:
    return MappingProxyType(d)


_EMPTY: Mapping[Any, Any] = MappingProxyType({})


def _empty() -> Any:
    # A dataclass field default may not be unhashable; every image shares one empty view.
    return dataclasses.field(default_factory=lambda: _EMPTY)


@dataclasses.dataclass(frozen=True, slots=True)
class PartitionImage:
    """One partition's replicas (preferred order), ISR, leader and epochs."""

    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int
    leader_epoch: int
    partition_epoch: int
    removing_replicas: tuple[int, ...] = ()
    adding_replicas: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class TopicImage:
    """A topic: its name, id and partitions by number (0..n-1)."""

    name: str
    topic_id: uuid.UUID
    partitions: Mapping[int, PartitionImage]

    @property
    def topic_id_str(self) -> str:
        """The id as Kafka shows it (22 base64url characters)."""
        return uuid_to_str(self.topic_id)


@dataclasses.dataclass(frozen=True, slots=True)
class BrokerImage:
    """A registered broker."""

    broker_id: int
    incarnation_id: uuid.UUID
    broker_epoch: int
    endpoints: tuple[Endpoint, ...]
    rack: str | None
    fenced: bool


@dataclasses.dataclass(frozen=True, slots=True)
class MetadataImage:
    """The cluster state after some prefix of the metadata log. Compare images with ``==``."""

    cluster_id: str | None = None
    topics_by_id: Mapping[uuid.UUID, TopicImage] = _empty()
    topic_ids_by_name: Mapping[str, uuid.UUID] = _empty()
    #: (resource_type, resource_name) -> {config name: value}; only overrides, never defaults.
    configs: Mapping[tuple[int, str], Mapping[str, str]] = _empty()
    brokers: Mapping[int, BrokerImage] = _empty()
    features: Mapping[str, int] = _empty()
    #: The first producer id not yet handed out (the next block starts here).
    next_producer_id: int = 0
    #: (user, ScramMechanism id) -> that user's salted SCRAM credential.
    scram_credentials: Mapping[tuple[str, int], UserScramCredentialRecord] = _empty()
    #: ACL id -> the ACL (Kafka's StandardAuthorizer reads them from here).
    acls: Mapping[uuid.UUID, AccessControlEntryRecord] = _empty()
    #: Client quota entity -> {quota key: value} (only entities with a quota set).
    client_quotas: Mapping[QuotaEntity, Mapping[str, float]] = _empty()

    def apply(self, record: MetadataRecord) -> MetadataImage:
        """The image after ``record``; raises MetadataError if it does not fit."""
        delta = MetadataDelta(self)
        delta.replay(record)
        return delta.apply()

    def apply_all(self, records: Iterable[MetadataRecord]) -> MetadataImage:
        """The image after every record of ``records``, in order (one delta for all)."""
        delta = MetadataDelta(self)
        for record in records:
            delta.replay(record)
        return delta.apply()

    def topic(self, name: str) -> TopicImage | None:
        topic_id = self.topic_ids_by_name.get(name)
        return None if topic_id is None else self.topics_by_id[topic_id]

    def topic_by_id(self, topic_id: uuid.UUID) -> TopicImage | None:
        return self.topics_by_id.get(topic_id)

    def topic_names(self) -> list[str]:
        return sorted(self.topic_ids_by_name)

    def partition(self, topic: str, partition: int) -> PartitionImage | None:
        image = self.topic(topic)
        return None if image is None else image.partitions.get(partition)

    def topic_configs(self, topic: str) -> Mapping[str, str]:
        """The config overrides of ``topic`` (Kafka topic config names), empty if none."""
        return self.configs.get((RESOURCE_TOPIC, topic), _EMPTY)

    def log_config(self, topic: str, defaults: LogConfig | None = None) -> LogConfig:
        """The effective LogConfig of ``topic``: its overrides on top of ``defaults`` (the
        broker's topic defaults; Kafka's built-in defaults when None)."""
        return LogConfig.from_properties(dict(self.topic_configs(topic)), base=defaults)


EMPTY_IMAGE = MetadataImage()


class MetadataDelta:
    """Accumulates records on top of a base image; :meth:`apply` yields the new image."""

    def __init__(self, base: MetadataImage) -> None:
        self._reset(base)

    def _reset(self, base: MetadataImage) -> None:
        self._base = base
        self._cluster_id = base.cluster_id
        self._next_producer_id = base.next_producer_id
        # None means "still the base's map"; a dict is this delta's private copy.
        self._topics: dict[uuid.UUID, TopicImage] | None = None
        self._names: dict[str, uuid.UUID] | None = None
        self._configs: dict[tuple[int, str], Mapping[str, str]] | None = None
        self._brokers: dict[int, BrokerImage] | None = None
        self._features: dict[str, int] | None = None
        self._scram: dict[tuple[str, int], UserScramCredentialRecord] | None = None
        self._acls: dict[uuid.UUID, AccessControlEntryRecord] | None = None
        self._quotas: dict[QuotaEntity, Mapping[str, float]] | None = None
        # Partition maps of topics touched by this delta, copied from the topic's image.
        self._partitions: dict[uuid.UUID, dict[int, PartitionImage]] = {}

    # -- copy on write ---------------------------------------------------------------------

    def _w_topics(self) -> dict[uuid.UUID, TopicImage]:
        if self._topics is None:
            self._topics = dict(self._base.topics_by_id)
        return self._topics

    def _w_names(self) -> dict[str, uuid.UUID]:
        if self._names is None:
            self._names = dict(self._base.topic_ids_by_name)
        return self._names

    def _w_configs(self) -> dict[tuple[int, str], Mapping[str, str]]:
        if self._configs is None:
            self._configs = dict(self._base.configs)
        return self._configs

    def _w_brokers(self) -> dict[int, BrokerImage]:
        if self._brokers is None:
            self._brokers = dict(self._base.brokers)
        return self._brokers

    def _w_features(self) -> dict[str, int]:
        if self._features is None:
            self._features = dict(self._base.features)
        return self._features

    def _r_topics(self) -> Mapping[uuid.UUID, TopicImage]:
        return self._base.topics_by_id if self._topics is None else self._topics

    def _r_names(self) -> Mapping[str, uuid.UUID]:
        return self._base.topic_ids_by_name if self._names is None else self._names

    def _r_configs(self) -> Mapping[tuple[int, str], Mapping[str, str]]:
        return self._base.configs if self._configs is None else self._configs

    def _r_partitions(self, topic_id: uuid.UUID) -> Mapping[int, PartitionImage]:
        parts = self._partitions.get(topic_id)
        if parts is not None:
            return parts
        return self._r_topics()[topic_id].partitions

    def _w_partitions(self, topic_id: uuid.UUID) -> dict[int, PartitionImage]:
        parts = self._partitions.get(topic_id)
        if parts is None:
            parts = dict(self._r_topics()[topic_id].partitions)
            self._partitions[topic_id] = parts
        return parts

    # -- replay ----------------------------------------------------------------------------

    def replay(self, record: MetadataRecord) -> None:
        """Fold one record into the delta; raise MetadataError if it does not fit."""
        handler = _HANDLERS.get(type(record))
        if handler is None:
            raise MetadataError(f"no image rule for {type(record).__name__}")
        handler(self, record)

    def _topic_id_known(self, topic_id: uuid.UUID, what: str) -> None:
        if topic_id not in self._r_topics():
            raise MetadataError(f"{what} for unknown topic id {uuid_to_str(topic_id)}")

    def _cluster_id_record(self, record: ClusterIdRecord) -> None:
        if self._cluster_id is not None and self._cluster_id != record.cluster_id:
            raise MetadataError(
                f"cluster id is {self._cluster_id!r}, a record tries to change it to "
                f"{record.cluster_id!r}"
            )
        self._cluster_id = record.cluster_id

    def _topic_record(self, record: TopicRecord) -> None:
        if record.name in self._r_names():
            raise MetadataError(f"topic {record.name!r} already exists")
        if record.topic_id in self._r_topics():
            raise MetadataError(f"topic id {uuid_to_str(record.topic_id)} is already in use")
        self._w_names()[record.name] = record.topic_id
        self._w_topics()[record.topic_id] = TopicImage(record.name, record.topic_id, _EMPTY)
        self._partitions[record.topic_id] = {}

    def _partition_record(self, record: PartitionRecord) -> None:
        self._topic_id_known(record.topic_id, f"partition {record.partition}")
        parts = self._w_partitions(record.topic_id)
        if record.partition != len(parts):
            raise MetadataError(
                f"partition {record.partition} of topic {self._name_of(record.topic_id)!r} "
                f"is out of order: the topic has {len(parts)} partitions"
            )
        parts[record.partition] = PartitionImage(
            record.replicas,
            record.isr,
            record.leader,
            record.leader_epoch,
            record.partition_epoch,
            record.removing_replicas,
            record.adding_replicas,
        )

    def _partition_change_record(self, record: PartitionChangeRecord) -> None:
        self._topic_id_known(record.topic_id, f"partition change of {record.partition}")
        old = self._r_partitions(record.topic_id).get(record.partition)
        if old is None:
            raise MetadataError(
                f"partition change for unknown partition {record.partition} of topic "
                f"{self._name_of(record.topic_id)!r}"
            )
        leader = old.leader if record.leader == NO_LEADER_CHANGE else record.leader
        replicas = old.replicas if record.replicas is None else record.replicas
        isr = old.isr if record.isr is None else record.isr
        if record.leader != NO_LEADER_CHANGE and leader != NO_LEADER and leader not in replicas:
            raise MetadataError(f"new leader {leader} is not a replica {list(replicas)}")
        check_assignment(f"partition {record.partition} after change", replicas, isr, leader)
        new = PartitionImage(
            replicas,
            isr,
            leader,
            old.leader_epoch + 1 if leader != old.leader else old.leader_epoch,
            old.partition_epoch + 1,
            old.removing_replicas if record.removing_replicas is None else record.removing_replicas,
            old.adding_replicas if record.adding_replicas is None else record.adding_replicas,
        )
        self._w_partitions(record.topic_id)[record.partition] = new

    def _remove_topic_record(self, record: RemoveTopicRecord) -> None:
        self._topic_id_known(record.topic_id, "remove topic")
        name = self._name_of(record.topic_id)
        del self._w_topics()[record.topic_id]
        del self._w_names()[name]
        self._partitions.pop(record.topic_id, None)
        if (RESOURCE_TOPIC, name) in self._r_configs():
            del self._w_configs()[(RESOURCE_TOPIC, name)]

    def _config_record(self, record: ConfigRecord) -> None:
        key = (record.resource_type, record.resource_name)
        if record.resource_type == RESOURCE_TOPIC and record.resource_name not in self._r_names():
            raise MetadataError(
                f"config {record.name!r} for unknown topic {record.resource_name!r}"
            )
        current = dict(self._r_configs().get(key, _EMPTY))
        if record.value is None:
            current.pop(record.name, None)
        else:
            current[record.name] = record.value
        configs = self._w_configs()
        if current:
            configs[key] = _frozen(current)
        else:
            configs.pop(key, None)

    def _register_broker_record(self, record: RegisterBrokerRecord) -> None:
        self._w_brokers()[record.broker_id] = BrokerImage(
            record.broker_id,
            record.incarnation_id,
            record.broker_epoch,
            record.endpoints,
            record.rack,
            record.fenced,
        )

    def _unregister_broker_record(self, record: UnregisterBrokerRecord) -> None:
        brokers = self._base.brokers if self._brokers is None else self._brokers
        if record.broker_id not in brokers:
            raise MetadataError(f"unregister of unknown broker {record.broker_id}")
        del self._w_brokers()[record.broker_id]

    def _producer_ids_record(self, record: ProducerIdsRecord) -> None:
        if record.next_producer_id <= self._next_producer_id:
            raise MetadataError(
                f"producer id block ending at {record.next_producer_id} does not advance past "
                f"{self._next_producer_id}"
            )
        self._next_producer_id = record.next_producer_id

    def _feature_level_record(self, record: FeatureLevelRecord) -> None:
        features = self._w_features()
        if record.feature_level == 0:
            features.pop(record.name, None)
        else:
            features[record.name] = record.feature_level

    def _no_op_record(self, record: MetadataRecord) -> None:
        # also Kafka's records that do not change what tidelog keeps (controller
        # registrations, ZooKeeper migration state, the bounds of a metadata transaction,
        # whose records apply as they come: the log holds only committed ones)
        pass

    def _set_fenced(self, broker_id: int, epoch: int, fenced: bool) -> None:
        brokers = self._base.brokers if self._brokers is None else self._brokers
        b = brokers.get(broker_id)
        if b is None:
            raise MetadataError(f"fencing change of unknown broker {broker_id}")
        if b.broker_epoch != epoch:
            raise MetadataError(f"fencing change of broker {broker_id} for epoch {epoch}, "
                                f"registered with epoch {b.broker_epoch}")
        self._w_brokers()[broker_id] = dataclasses.replace(b, fenced=fenced)

    def _fence_broker_record(self, record: FenceBrokerRecord) -> None:
        self._set_fenced(record.broker_id, record.broker_epoch, True)

    def _unfence_broker_record(self, record: UnfenceBrokerRecord) -> None:
        self._set_fenced(record.broker_id, record.broker_epoch, False)

    def _broker_registration_change_record(self, record: BrokerRegistrationChangeRecord
                                           ) -> None:
        if record.fenced:
            self._set_fenced(record.broker_id, record.broker_epoch, record.fenced == 1)

    def _abort_transaction_record(self, record: AbortTransactionRecord) -> None:
        raise MetadataError("an aborted metadata transaction (Kafka's AbortTransactionRecord) "
                            "cannot be replayed by tidelog yet")

    def _w_scram(self) -> dict[tuple[str, int], UserScramCredentialRecord]:
        if self._scram is None:
            self._scram = dict(self._base.scram_credentials)
        return self._scram

    def _w_acls(self) -> dict[uuid.UUID, AccessControlEntryRecord]:
        if self._acls is None:
            self._acls = dict(self._base.acls)
        return self._acls

    def _access_control_entry_record(self, record: AccessControlEntryRecord) -> None:
        self._w_acls()[record.acl_id] = record

    def _remove_access_control_entry_record(
        self, record: RemoveAccessControlEntryRecord
    ) -> None:
        if self._w_acls().pop(record.acl_id, None) is None:
            raise MetadataError(f"remove of unknown ACL {record.acl_id}")

    def _client_quota_record(self, record: ClientQuotaRecord) -> None:
        if self._quotas is None:
            self._quotas = dict(self._base.client_quotas)
        values = dict(self._quotas.get(record.entity, _EMPTY))
        if record.remove:
            values.pop(record.key, None)  # removing an unset quota is no error (Kafka's)
        else:
            values[record.key] = record.value
        if values:
            self._quotas[record.entity] = _frozen(values)
        else:
            self._quotas.pop(record.entity, None)

    def _user_scram_credential_record(self, record: UserScramCredentialRecord) -> None:
        self._w_scram()[(record.name, record.mechanism)] = record

    def _remove_user_scram_credential_record(
        self, record: RemoveUserScramCredentialRecord
    ) -> None:
        if self._w_scram().pop((record.name, record.mechanism), None) is None:
            raise MetadataError(
                f"remove of unknown SCRAM credential {record.name!r}/{record.mechanism}")

    def _name_of(self, topic_id: uuid.UUID) -> str:
        return self._r_topics()[topic_id].name

    # -- result ----------------------------------------------------------------------------

    def apply(self) -> MetadataImage:
        """The image with every replayed record applied. The delta then continues from it."""
        base = self._base
        topics: Mapping[uuid.UUID, TopicImage] = base.topics_by_id
        if self._partitions or self._topics is not None:
            topics_w = self._w_topics()
            for topic_id, parts in self._partitions.items():
                topic = topics_w.get(topic_id)
                if topic is not None:
                    topics_w[topic_id] = dataclasses.replace(topic, partitions=_frozen(parts))
            topics = _frozen(topics_w)
        image = MetadataImage(
            cluster_id=self._cluster_id,
            topics_by_id=topics,
            topic_ids_by_name=base.topic_ids_by_name
            if self._names is None
            else _frozen(self._names),
            configs=base.configs if self._configs is None else _frozen(self._configs),
            brokers=base.brokers if self._brokers is None else _frozen(self._brokers),
            features=base.features if self._features is None else _frozen(self._features),
            next_producer_id=self._next_producer_id,
            scram_credentials=base.scram_credentials if self._scram is None
            else _frozen(self._scram),
            acls=base.acls if self._acls is None else _frozen(self._acls),
            client_quotas=base.client_quotas if self._quotas is None
            else _frozen(self._quotas),
        )
        # The maps now belong to the image: further replays must copy again.
        self._reset(image)
        return image


_HANDLERS: dict[type[MetadataRecord], Any] = {
    ClusterIdRecord: MetadataDelta._cluster_id_record,
    TopicRecord: MetadataDelta._topic_record,
    PartitionRecord: MetadataDelta._partition_record,
    PartitionChangeRecord: MetadataDelta._partition_change_record,
    RemoveTopicRecord: MetadataDelta._remove_topic_record,
    ConfigRecord: MetadataDelta._config_record,
    RegisterBrokerRecord: MetadataDelta._register_broker_record,
    UnregisterBrokerRecord: MetadataDelta._unregister_broker_record,
    ProducerIdsRecord: MetadataDelta._producer_ids_record,
    FeatureLevelRecord: MetadataDelta._feature_level_record,
    NoOpRecord: MetadataDelta._no_op_record,
    UserScramCredentialRecord: MetadataDelta._user_scram_credential_record,
    AccessControlEntryRecord: MetadataDelta._access_control_entry_record,
    RemoveAccessControlEntryRecord: MetadataDelta._remove_access_control_entry_record,
    RemoveUserScramCredentialRecord: MetadataDelta._remove_user_scram_credential_record,
    FenceBrokerRecord: MetadataDelta._fence_broker_record,
    UnfenceBrokerRecord: MetadataDelta._unfence_broker_record,
    BrokerRegistrationChangeRecord: MetadataDelta._broker_registration_change_record,
    RegisterControllerRecord: MetadataDelta._no_op_record,
    ZkMigrationStateRecord: MetadataDelta._no_op_record,
    BeginTransactionRecord: MetadataDelta._no_op_record,
    EndTransactionRecord: MetadataDelta._no_op_record,
    AbortTransactionRecord: MetadataDelta._abort_transaction_record,
    ClientQuotaRecord: MetadataDelta._client_quota_record,
}

__all__ = [
    "EMPTY_IMAGE",
    "BrokerImage",
    "MetadataDelta",
    "MetadataImage",
    "PartitionImage",
    "TopicImage",
]
