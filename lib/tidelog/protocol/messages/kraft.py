"""Schemas of KRaft's metadata records and control records, as Kafka writes them to disk.

Metadata records (Kafka's ``metadata`` module, ``type: metadata``) are the values of the
records in ``__cluster_metadata-0`` and in ``.checkpoint`` snapshots; control records
(``LeaderChange``, ``SnapshotHeader``, ``SnapshotFooter``, ``KRaftVersion``, ``KRaftVoters``)
are the values of the records of control batches, keyed by Kafka's control record key.
Every one of them is flexible in every version (compact strings and arrays, tagged fields), so
each is one :class:`~tidelog.protocol.schema.MessageSchema` compiled by the same codec as the
wire protocol; :mod:`tidelog.metadata.frames` adds the frame around a metadata record.

Written from Apache Kafka's JSON definitions (field names in snake_case, Kafka's version
ranges and defaults). ``RECORDS`` maps the API key to the schema and its valid versions;
``CONTROL`` maps the control record type to its value's schema (read and written at version
0, the only one Kafka reads: the value carries its own ``version`` field).

One addition of tidelog's: NoOpRecord may carry a tagged field ``tidelog_cluster_id`` (tag
``CLUSTER_ID_TAG``), which is how tidelog's ClusterIdRecord (a record Kafka has no type for:
Kafka keeps the cluster id in ``meta.properties`` only) travels in the log. Kafka's readers skip
unknown tagged fields, so to Kafka's tools it is a NoOpRecord.
"""

from __future__ import annotations

from dataclasses import dataclass

from tidelog.protocol.schema import Field, MessageSchema, VersionRange, f, parse_versions

#: The tagged field of NoOpRecord that carries tidelog's cluster id (far above Kafka's tags).
CLUSTER_ID_TAG = 10_000


@dataclass(frozen=True, eq=False)
class RecordSchema:
    """One metadata record type: API key, name, valid versions and the body schema."""

    api_key: int
    name: str
    versions: VersionRange
    body: MessageSchema


def _record(api_key: int, name: str, versions: str, fields: list[Field]) -> RecordSchema:
    rng = parse_versions(versions)
    assert rng is not None
    return RecordSchema(api_key, name, rng, MessageSchema(name, tuple(fields), (0, 0x7FFF)))


_ENDPOINT = [
    f("name", "string"),
    f("host", "string"),
    f("port", "uint16"),
    f("security_protocol", "int16"),
]
_FEATURE = [
    f("name", "string"),
    f("min_supported_version", "int16"),
    f("max_supported_version", "int16"),
]

_ALL = (
    _record(0, "RegisterBrokerRecord", "0-3", [
        f("broker_id", "int32"),
        f("is_migrating_zk_broker", "bool", "2+"),
        f("incarnation_id", "uuid"),
        f("broker_epoch", "int64"),
        f("end_points", list(_ENDPOINT)),
        f("features", list(_FEATURE)),
        f("rack", "string", nullable="0+", default=None),
        f("fenced", "bool", default=True),
        f("in_controlled_shutdown", "bool", "1+"),
        f("log_dirs", "[]uuid", "3+", tag=0),
    ]),
    _record(1, "UnregisterBrokerRecord", "0", [
        f("broker_id", "int32"),
        f("broker_epoch", "int64"),
    ]),
    _record(2, "TopicRecord", "0", [
        f("name", "string"),
        f("topic_id", "uuid"),
    ]),
    _record(3, "PartitionRecord", "0-2", [
        f("partition_id", "int32", default=-1),
        f("topic_id", "uuid"),
        f("replicas", "[]int32"),
        f("isr", "[]int32"),
        f("removing_replicas", "[]int32"),
        f("adding_replicas", "[]int32"),
        f("leader", "int32", default=-1),
        f("leader_recovery_state", "int8", tag=0, default=0),
        f("leader_epoch", "int32", default=-1),
        f("partition_epoch", "int32", default=-1),
        f("directories", "[]uuid", "1+"),
        f("eligible_leader_replicas", "[]int32", "2+", tag=1, nullable="2+", default=None),
        f("last_known_elr", "[]int32", "2+", tag=2, nullable="2+", default=None),
    ]),
    _record(4, "ConfigRecord", "0", [
        f("resource_type", "int8"),
        f("resource_name", "string"),
        f("name", "string"),
        f("value", "string", nullable="0+", default=None),
    ]),
    _record(5, "PartitionChangeRecord", "0-2", [
        f("partition_id", "int32", default=-1),
        f("topic_id", "uuid"),
        f("isr", "[]int32", tag=0, nullable="0+", default=None),
        f("leader", "int32", tag=1, default=-2),
        f("replicas", "[]int32", tag=2, nullable="0+", default=None),
        f("removing_replicas", "[]int32", tag=3, nullable="0+", default=None),
        f("adding_replicas", "[]int32", tag=4, nullable="0+", default=None),
        f("leader_recovery_state", "int8", tag=5, default=-1),
        f("directories", "[]uuid", "1+", tag=8, nullable="1+", default=None),
        f("eligible_leader_replicas", "[]int32", "2+", tag=6, nullable="2+", default=None),
        f("last_known_elr", "[]int32", "2+", tag=7, nullable="2+", default=None),
    ]),
    _record(7, "FenceBrokerRecord", "0", [f("id", "int32"), f("epoch", "int64")]),
    _record(8, "UnfenceBrokerRecord", "0", [f("id", "int32"), f("epoch", "int64")]),
    _record(9, "RemoveTopicRecord", "0", [f("topic_id", "uuid")]),
    _record(10, "DelegationTokenRecord", "0", [
        f("owner", "string"),
        f("requester", "string"),
        f("renewers", "[]string"),
        f("issue_timestamp", "int64"),
        f("max_timestamp", "int64"),
        f("expiration_timestamp", "int64"),
        f("token_id", "string"),
    ]),
    _record(11, "UserScramCredentialRecord", "0", [
        f("name", "string"),
        f("mechanism", "int8"),
        f("salt", "bytes"),
        f("stored_key", "bytes"),
        f("server_key", "bytes"),
        f("iterations", "int32"),
    ]),
    _record(12, "FeatureLevelRecord", "0", [
        f("name", "string"),
        f("feature_level", "int16"),
    ]),
    _record(14, "ClientQuotaRecord", "0", [
        f("entity", [
            f("entity_type", "string"),
            f("entity_name", "string", nullable="0+", default=None),
        ]),
        f("key", "string"),
        f("value", "float64"),
        f("remove", "bool"),
    ]),
    _record(15, "ProducerIdsRecord", "0", [
        f("broker_id", "int32"),
        f("broker_epoch", "int64", default=-1),
        f("next_producer_id", "int64"),
    ]),
    _record(17, "BrokerRegistrationChangeRecord", "0-2", [
        f("broker_id", "int32"),
        f("broker_epoch", "int64"),
        f("fenced", "int8", tag=0),
        f("in_controlled_shutdown", "int8", "1+", tag=1),
        f("log_dirs", "[]uuid", "2+", tag=2),
    ]),
    _record(18, "AccessControlEntryRecord", "0", [
        f("id", "uuid"),
        f("resource_type", "int8"),
        f("resource_name", "string"),
        f("pattern_type", "int8"),
        f("principal", "string"),
        f("host", "string"),
        f("operation", "int8"),
        f("permission_type", "int8"),
    ]),
    _record(19, "RemoveAccessControlEntryRecord", "0", [f("id", "uuid")]),
    _record(20, "NoOpRecord", "0", [
        f("tidelog_cluster_id", "string", tag=CLUSTER_ID_TAG, nullable="0+", default=None),
    ]),
    _record(21, "ZkMigrationStateRecord", "0", [f("zk_migration_state", "int8")]),
    _record(22, "RemoveUserScramCredentialRecord", "0", [
        f("name", "string"),
        f("mechanism", "int8"),
    ]),
    _record(23, "BeginTransactionRecord", "0", [
        f("name", "string", tag=0, nullable="0+", default=None),
    ]),
    _record(24, "EndTransactionRecord", "0", []),
    _record(25, "AbortTransactionRecord", "0", [
        f("reason", "string", tag=0, nullable="0+", default=None),
    ]),
    _record(26, "RemoveDelegationTokenRecord", "0", [f("token_id", "string")]),
    _record(27, "RegisterControllerRecord", "0", [
        f("controller_id", "int32"),
        f("incarnation_id", "uuid"),
        f("zk_migration_ready", "bool"),
        f("end_points", list(_ENDPOINT)),
        f("features", list(_FEATURE)),
    ]),
)

#: Metadata record schemas by API key.
RECORDS: dict[int, RecordSchema] = {r.api_key: r for r in _ALL}
#: ... and by name.
BY_NAME: dict[str, RecordSchema] = {r.name: r for r in _ALL}

# -- control records -------------------------------------------------------------------------

#: Kafka's ControlRecordType ids.
ABORT, COMMIT, LEADER_CHANGE, SNAPSHOT_HEADER, SNAPSHOT_FOOTER, KRAFT_VERSION, KRAFT_VOTERS = (
    range(7))


def _control(name: str, fields: list[Field]) -> MessageSchema:
    return MessageSchema(name, tuple(fields), (0, 0x7FFF))


_VOTER = [f("voter_id", "int32"), f("voter_directory_id", "uuid", "1+")]

CONTROL: dict[int, MessageSchema] = {
    LEADER_CHANGE: _control("LeaderChangeMessage", [
        f("version", "int16"),
        f("leader_id", "int32"),
        f("voters", list(_VOTER)),
        f("granting_voters", list(_VOTER)),
    ]),
    SNAPSHOT_HEADER: _control("SnapshotHeaderRecord", [
        f("version", "int16"),
        f("last_contained_log_timestamp", "int64"),
    ]),
    SNAPSHOT_FOOTER: _control("SnapshotFooterRecord", [f("version", "int16")]),
    KRAFT_VERSION: _control("KRaftVersionRecord", [
        f("version", "int16"),
        f("kraft_version", "int16"),
    ]),
    KRAFT_VOTERS: _control("VotersRecord", [
        f("version", "int16"),
        f("voters", [
            f("voter_id", "int32"),
            f("voter_directory_id", "uuid"),
            f("endpoints", [f("name", "string"), f("host", "string"), f("port", "uint16")]),
            f("kraft_version_feature", (
                f("min_supported_version", "int16"),
                f("max_supported_version", "int16"),
            )),
        ]),
    ]),
}

#: Names as kafka-dump-log prints them (``LeaderChange: {...}``, ``SnapshotHeader {...}``).
CONTROL_NAMES = {LEADER_CHANGE: "LeaderChange", SNAPSHOT_HEADER: "SnapshotHeader",
                 SNAPSHOT_FOOTER: "SnapshotFooter", KRAFT_VERSION: "KRaftVersion",
                 KRAFT_VOTERS: "KRaftVoters", ABORT: "Abort", COMMIT: "Commit"}
