"""Hypothesis strategies that build valid metadata records."""

from __future__ import annotations

import uuid

from hypothesis import strategies as st
from tidelog.metadata.records import (
    AbortTransactionRecord,
    BeginTransactionRecord,
    BrokerRegistrationChangeRecord,
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
    RegisterBrokerRecord,
    RegisterControllerRecord,
    RemoveTopicRecord,
    TopicRecord,
    UnfenceBrokerRecord,
    UnregisterBrokerRecord,
    ZkMigrationStateRecord,
)

INT32 = st.integers(0, (1 << 31) - 1)
INT64 = st.integers(-(1 << 63), (1 << 63) - 1)
uuids = st.builds(uuid.UUID, int=st.integers(0, (1 << 128) - 1))
texts = st.text(min_size=1, max_size=20)
broker_lists = st.lists(st.integers(0, 1000), unique=True, max_size=5).map(tuple)


@st.composite
def partition_records(draw: st.DrawFn) -> PartitionRecord:
    replicas = draw(st.lists(st.integers(0, 1000), unique=True, min_size=1, max_size=5))
    isr = [r for r in replicas if draw(st.booleans())]
    leader = draw(st.sampled_from([*isr, -1]))
    return PartitionRecord(
        topic_id=draw(uuids),
        partition=draw(INT32),
        replicas=tuple(replicas),
        isr=tuple(isr),
        leader=leader,
        leader_epoch=draw(st.integers(-1, 1000)),
        partition_epoch=draw(st.integers(-1, 1000)),
        removing_replicas=draw(broker_lists),
        adding_replicas=draw(broker_lists),
    )


endpoints = st.lists(
    st.builds(Endpoint, texts, texts, st.integers(0, 65535), st.integers(0, 3)),
    max_size=3,
    unique_by=lambda e: e.name,
).map(tuple)

records: st.SearchStrategy[MetadataRecord] = st.one_of(
    st.builds(ClusterIdRecord, texts),
    st.builds(TopicRecord, texts, uuids),
    partition_records(),
    st.builds(
        PartitionChangeRecord,
        uuids,
        INT32,
        st.none() | broker_lists,
        st.integers(-2, 1000),
        st.none() | broker_lists,
        st.none() | broker_lists,
        st.none() | broker_lists,
    ),
    st.builds(RemoveTopicRecord, uuids),
    st.builds(
        ConfigRecord,
        st.just(2),
        texts,
        texts,
        st.none() | st.text(max_size=20),
    ),
    st.builds(ConfigRecord, st.just(4), st.just("") | INT32.map(str), texts, st.none() | texts),
    st.builds(
        RegisterBrokerRecord, INT32, uuids, INT64, endpoints, st.none() | texts, st.booleans()
    ),
    st.builds(UnregisterBrokerRecord, INT32, INT64),
    st.builds(ProducerIdsRecord, INT32, st.integers(0, (1 << 63) - 1), INT64),
    st.builds(FeatureLevelRecord, texts, st.integers(0, (1 << 15) - 1)),
    st.just(NoOpRecord()),
    # Kafka's records that tidelog reads
    st.builds(FenceBrokerRecord, INT32, INT64),
    st.builds(UnfenceBrokerRecord, INT32, INT64),
    st.builds(BrokerRegistrationChangeRecord, INT32, INT64, st.integers(-1, 1),
              st.integers(0, 1)),
    st.builds(RegisterControllerRecord, INT32, uuids, endpoints),
    st.builds(ZkMigrationStateRecord, st.integers(0, 3)),
    st.builds(BeginTransactionRecord, st.none() | texts),
    st.just(EndTransactionRecord()),
    st.builds(AbortTransactionRecord, st.none() | texts),
)
