"""The broker's state: its logs, its metadata and the waits that tie them to requests.

:class:`BrokerCore` owns the :class:`~tidelog.storage.manager.LogManager` (partition logs in
the data dir), the :class:`~tidelog.broker.quorum.MetadataQuorum` (the Raft log in
``<data-dir>/__cluster_metadata-0``)
and the image it replays, and the :class:`~tidelog.broker.replication.manager.ReplicaManager`
(the partitions this broker hosts: roles, appends, reads, waits, replica fetchers). Request
handlers (``tidelog.broker.handlers``) go through it for everything that changes state.

Metadata changes (topics, partitions, configs, producer id blocks) are controller operations
(:mod:`tidelog.metadata.controller_ops`) whose records are appended to the metadata log (which
fdatasyncs) *before* logs on disk are deleted; a partition's log is created on its first use.
On start the image is replayed and partition logs it does not know are renamed aside to
``-stray`` (leftovers of a crash between the two steps of a deletion, or another broker's data
dir), never deleted. A single node is the one-voter case of the
Raft quorum: it elects itself on start and commits each change before the call returns.

Durability, acks and fetch long polling are the replica manager's (see its module).

Not thread safe: everything runs on the event loop except the fdatasyncs storage runs on its
worker threads. Metadata appends fsync on the loop; they are rare (admin operations).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence

from tidelog.broker.acl.authorizer import Authorizer, parse_super_users
from tidelog.broker.config import BrokerConfig
from tidelog.broker.groups.coordinator import GroupCoordinator
from tidelog.broker.listeners import (
    PRIMARY,
    ListenerSpec,
    endpoint_args,
    endpoint_for,
    endpoints_from,
)
from tidelog.broker.liveness import BrokerLiveness
from tidelog.broker.metrics.counters import BrokerMetrics
from tidelog.broker.quorum import MetadataQuorum
from tidelog.broker.quorum.cluster import ClusterNode
from tidelog.broker.quota.manager import QuotaManager
from tidelog.broker.replication.manager import ReplicaManager
from tidelog.broker.services import ProducerIdPool
from tidelog.broker.txn.coordinator import TransactionCoordinator
from tidelog.errors import TidelogError
from tidelog.metadata import controller_ops, elections
from tidelog.metadata.controller_ops import ConfigChange
from tidelog.metadata.image import MetadataImage, TopicImage
from tidelog.metadata.records import (
    ClusterIdRecord,
    ConfigRecord,
    Endpoint,
    MetadataRecord,
    RegisterBrokerRecord,
)
from tidelog.storage.cleaner import LogCleaner
from tidelog.storage.config import LogConfig
from tidelog.storage.log import PartitionLog
from tidelog.storage.manager import LogManager
from tidelog.storage.topic_partition import TopicPartition

log = logging.getLogger("tidelog.broker")

#: Topic configs the broker answers for although storage does not use them.
EXTRA_TOPIC_DEFAULTS = ("cleanup.policy", "min.insync.replicas", "unclean.leader.election.enable")


class BrokerCore:
    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self.node_id = config.node_id
        self.default_log_config: LogConfig = config.log_config()
        self.logs = LogManager(
            config.data_dir, self.default_log_config, node_id=config.node_id
        )
        self.metadata: MetadataQuorum | None = None
        #: What Metadata answers say of brokers the metadata has not caught up with yet.
        self.liveness = BrokerLiveness(config.node_id)
        #: The partitions this broker hosts: roles, appends, reads, waits, replica fetchers.
        self.replicas = ReplicaManager(
            config, self.logs, lambda: self.image, self.topic_log_config
        )
        #: Producer ids this broker hands out, a block at a time (InitProducerId).
        self.producer_ids = ProducerIdPool()
        self.cluster_id = ""
        self._fresh_dir = False
        #: Quorum traffic, registration and forwarding of a multi-node cluster (``--quorum``;
        #: set by the daemon), None for a single node.
        self.cluster: ClusterNode | None = None
        #: Topics of the image the logs were last reconciled with (None before the first time).
        self._reconciled_topics: set[str] | None = None
        #: The group coordinator (consumer groups, ``__consumer_offsets``), loaded by start().
        self.groups = GroupCoordinator(self)
        #: The transaction coordinator (``__transaction_state``), loaded like the groups.
        self.txns = TransactionCoordinator(self)
        #: The log cleaner (tidelog.storage.cleaner), set by the daemon that runs it.
        self.cleaner: LogCleaner | None = None
        #: What requests count (set by the daemon when metrics_listen is set, else None).
        self.metrics: BrokerMetrics | None = None
        #: The listeners beyond the primary one, once bound (set by the daemon before start).
        self.listeners: tuple[ListenerSpec, ...] = ()
        #: The rates of the clients with quotas (the quotas themselves are in the image).
        self.quotas = QuotaManager()
        #: ACL checks on the named listeners (None: no authorizer, ACL APIs disabled).
        self.authorizer: Authorizer | None = None
        if config.authorizer == "standard":
            self.authorizer = Authorizer(parse_super_users(config.super_users),
                                         config.allow_everyone_if_no_acl_found)

    # -- lifetime ----------------------------------------------------------------------------

    def start(self) -> None:
        """Open the logs and the metadata log, register this broker, reconcile logs."""
        report = self.logs.startup()
        if report.recovered:
            for tp, rr in report.recovered.items():
                log.warning(
                    "recovered %s: cut %d bytes, %d segments rebuilt",
                    tp, rr.bytes_truncated, rr.segments_recovered,
                )
        # Worded for an operator: a new directory is not an unclean shutdown.
        if report.created_meta_properties:
            log.info("log dir %s: new, empty", self.config.data_dir)
        else:
            log.info(
                "log dir %s: %d partition logs, %s", self.config.data_dir, report.logs_loaded,
                "after a clean shutdown" if report.clean_shutdown
                else "after an unclean shutdown (log tails checked)",
            )
        if self.config.is_cluster:
            self._start_clustered(report.created_meta_properties)
            return
        self.metadata = MetadataQuorum.open(
            self.config.data_dir, node_id=self.node_id,
            snapshot_bytes=self.config.metadata_log_max_record_bytes_between_snapshots)
        image = self.metadata.image
        records: list[MetadataRecord] = []
        if image.cluster_id is None:
            records.append(ClusterIdRecord(self.logs.meta_properties["cluster.id"]))
        adv = self.config.advertised
        records.append(
            RegisterBrokerRecord(
                broker_id=self.node_id,
                incarnation_id=uuid.uuid4(),
                broker_epoch=self.metadata.next_offset,
                endpoints=(Endpoint("PLAINTEXT", adv.host, adv.port),
                           *endpoints_from(endpoint_args(self.listeners))),
            )
        )
        self.metadata.append(records)
        # Partitions left without a leader (a Kafka data dir after a controlled shutdown, or
        # an earlier start that lost its broker) are led by this, the only broker, again.
        leaderless = elections.with_broker(
            self.metadata.image, self.node_id,
            unclean_default=self.config.unclean_leader_election_enable)
        if leaderless:
            self.metadata.append(leaderless)
        self.cluster_id = self.metadata.image.cluster_id or ""
        self._reconcile_logs()
        self.groups.load()
        self.txns.load()

    def _start_clustered(self, fresh_dir: bool) -> None:
        """Open the metadata log as one node of a quorum (``--quorum``): no election or
        registration here; :class:`~tidelog.broker.quorum.cluster.ClusterNode` does both once
        the quorum connections run. The image is the committed prefix this node has."""
        self.metadata = MetadataQuorum.open(
            self.config.data_dir, node_id=self.node_id, voters=sorted(self.config.voters),
            snapshot_bytes=self.config.metadata_log_max_record_bytes_between_snapshots,
        )
        self._fresh_dir = fresh_dir and self.metadata.next_offset == 0
        self.metadata.add_listener(self._image_changed)
        if self.image.cluster_id is not None:
            self._image_changed(self.image)
        # groups load per partition as this broker becomes leader of __consumer_offsets ones

    def _image_changed(self, image: MetadataImage) -> None:
        """A clustered node's image moved: adopt the cluster id, follow deletions/configs."""
        if image.cluster_id is None:
            return
        if image.cluster_id != self.cluster_id:
            mine = self.logs.meta_properties.get("cluster.id")
            if mine != image.cluster_id:
                if not self._fresh_dir:
                    reason = (f"{self.config.data_dir} belongs to cluster {mine}, the quorum "
                              f"to cluster {image.cluster_id}")
                    if self.cluster is None:
                        raise TidelogError(reason)
                    self.cluster.fail(reason)
                    return
                from tidelog.storage.checkpoint import write_meta_properties
                from tidelog.storage.manager import META_PROPERTIES

                props = dict(self.logs.meta_properties, **{"cluster.id": image.cluster_id})
                write_meta_properties(self.config.data_dir / META_PROPERTIES, props)
                self.logs.meta_properties = props
                log.info("joined cluster %s", image.cluster_id)
            self.cluster_id = image.cluster_id
        if not self.replicas.taking_roles and self._registered(image):
            log.info("registered and unfenced: taking the partition roles the metadata gives")
            self.replicas.taking_roles = True
        self.replicas.apply_image(image)
        self._reconcile_logs()

    def _registered(self, image: MetadataImage) -> bool:
        """This process is registered and unfenced in ``image``: the image is recent enough
        to act on (a returning broker registers fenced; the controller moves its leaderships
        before it unfences it, so the roles it then sees are current)."""
        if self.cluster is None or not self.config.is_broker:
            return False
        b = image.brokers.get(self.node_id)
        return b is not None and b.incarnation_id == self.cluster.incarnation and not b.fenced

    def _reconcile_logs(self) -> None:
        """Give existing logs their topic's config; delete the logs of topics the metadata
        deleted since the last call, and rename logs it never knew aside
        (``<dir>.<uuid>-stray``, as Kafka does) with one warning: logd never deletes data it
        did not decide to delete (missing logs are created on first use, see
        :meth:`partition_log`). A partition a reassignment moved off this broker loses its log
        here too (Kafka's StopReplica with delete) — only once this broker acts on the
        metadata (:meth:`_registered`): an image that has not caught up may not list it as a
        replica yet."""
        image = self.image
        stray = []
        before, self._reconciled_topics = self._reconciled_topics, set(image.topic_names())
        for tp, plog in self.logs.logs().items():
            pimg = image.partition(tp.topic, tp.partition)
            if pimg is None:
                if before is not None and tp.topic in before:
                    # the metadata deleted the topic since the last look (how the brokers of
                    # a cluster follow a deletion): logd's decision, so the log goes
                    self.logs.delete_log(tp)
                    continue
                self.logs.set_aside_log(tp)
                stray.append(str(tp))
            elif self.config.is_cluster and self.replicas.taking_roles and \
                    self.node_id not in pimg.replicas:
                # a reassignment moved the partition off this broker: the controller's
                # decision, so the copy goes
                log.info("deleting log %s: this broker is no longer one of its replicas %s",
                         tp, list(pimg.replicas))
                self.replicas.forget(tp)
                self.logs.delete_log(tp)
            else:
                plog.update_config(self.topic_log_config(tp.topic))
        if stray:
            shown = ", ".join(stray[:5]) + (f" and {len(stray) - 5} more" if len(stray) > 5 else "")
            log.warning("%d partition logs not in the metadata renamed aside to <dir>.<uuid>-stray "
                        "in %s, not deleted: %s", len(stray), self.config.data_dir, shown)

    @property
    def stopping(self) -> bool:
        """Shutdown has begun: long polls answer at once with what they have."""
        return self.replicas.stopping

    def wake_all(self) -> None:
        """End every fetch wait now (shutdown: long polls answer with what they have)."""
        self.replicas.wake_all()

    def shutdown(self) -> None:
        """Flush and close everything, writing the clean-shutdown marker last."""
        self.wake_all()
        self.groups.shutdown()
        self.txns.shutdown()
        self.logs.shutdown()
        if self.metadata is not None:
            self.metadata.close()
            self.metadata = None

    # -- metadata ----------------------------------------------------------------------------

    def address_on(self, broker_id: int, listener: str) -> tuple[str, int] | None:
        """Where clients of ``listener`` reach a broker (None: it has no such listener or is
        not registered). This broker answers from its config, others from the image."""
        if broker_id == self.node_id:
            if listener == PRIMARY:
                adv = self.config.advertised
                return adv.host, adv.port
            for spec in self.listeners:
                if spec.name == listener:
                    return spec.advertised_host, spec.advertised_port
            return None
        broker = self.image.brokers.get(broker_id)
        endpoint = None if broker is None else endpoint_for(broker.endpoints, listener)
        return None if endpoint is None else (endpoint.host, endpoint.port)

    @property
    def image(self) -> MetadataImage:
        assert self.metadata is not None, "the broker is not started"
        return self.metadata.image

    @property
    def broker_ids(self) -> list[int]:
        """The brokers new partitions may go to: this one, or a cluster's unfenced brokers."""
        if not self.config.is_cluster:
            return [self.node_id]
        return sorted(b for b, img in self.image.brokers.items() if not img.fenced)

    def topic_log_config(self, topic: str) -> LogConfig:
        return self.image.log_config(topic, self.default_log_config)

    def topic_defaults(self) -> dict[str, str]:
        """Every topic config with the broker's default value (Kafka names)."""
        props = self.default_log_config.to_properties()
        broker = self.config.topic_defaults()
        for name in EXTRA_TOPIC_DEFAULTS:
            props[name] = broker[name]
        return props

    def commit(self, records: Sequence[MetadataRecord]) -> None:
        """Commit ``records`` on a single node (in a cluster changes go through the active
        controller: tidelog.broker.quorum.ops)."""
        self._commit(records)

    def _commit(self, records: Sequence[MetadataRecord]) -> None:
        assert self.metadata is not None
        if self.config.is_cluster:
            # a quorum commits asynchronously: changes go through tidelog.broker.quorum.ops
            from tidelog.broker.quorum.cluster import NotControllerError

            raise NotControllerError("this change is not available in a multi-node cluster yet")
        self.metadata.append(records)

    def create_topic(
        self,
        name: str,
        partitions: int,
        replication_factor: int,
        configs: Mapping[str, str | None],
        *,
        validate_only: bool = False,
    ) -> TopicImage:
        """Create a topic (ControllerError if refused); returns its image (or, when only
        validating, the image it would have)."""
        records = controller_ops.create_topic(
            self.image, name, partitions, replication_factor, configs, self.broker_ids,
            default_partitions=self.config.num_partitions,
            default_replication_factor=self.config.default_replication_factor,
        )
        given = {k: v for k, v in configs.items() if v is not None}
        LogConfig.from_properties(given, base=self.default_log_config)  # storage's ranges too
        if validate_only:
            topic = self.image.apply_all(records).topic(name)
            assert topic is not None
            return topic
        self._commit(records)
        topic = self.image.topic(name)
        assert topic is not None
        log.info("created topic %s with %d partitions", name, len(topic.partitions))
        return topic

    def delete_topic(self, name: str | None, topic_id: uuid.UUID | None = None) -> str:
        """Delete a topic by name or id; returns its name."""
        records = controller_ops.delete_topic(self.image, name, topic_id=topic_id)
        topic = self.image.topic(name) if name is not None else None
        if topic is None and topic_id is not None:
            topic = self.image.topic_by_id(topic_id)
        assert topic is not None
        self._commit(records)
        for p in topic.partitions:
            tp = TopicPartition(topic.name, p)
            self.replicas.forget(tp)
            self.logs.delete_log(tp)  # False when it was never used: nothing on disk
        log.info("deleted topic %s", topic.name)
        return topic.name

    def create_partitions(self, name: str, count: int, *, validate_only: bool = False) -> None:
        records = controller_ops.create_partitions(self.image, name, count, self.broker_ids)
        if validate_only:
            return
        self._commit(records)
        log.info("topic %s now has %d partitions", name, count)

    def alter_configs(
        self,
        resource_type: int,
        resource_name: str,
        changes: Sequence[ConfigChange],
        *,
        validate_only: bool = False,
    ) -> None:
        from tidelog.broker.quorum.ops import check_broker_values
        from tidelog.replication.throttle import BROKER_CONFIGS

        records = controller_ops.alter_configs(
            self.image, resource_type, resource_name, changes,
            valid_broker_configs=BROKER_CONFIGS,
        )
        check_broker_values(records)
        if resource_type == 2 and records:
            # Storage's own checks (ranges it enforces) must pass before anything commits.
            props = dict(self.image.topic_configs(resource_name))
            for change in records:
                if not isinstance(change, ConfigRecord):
                    continue
                if change.value is None:
                    props.pop(change.name, None)
                else:
                    props[change.name] = change.value
            LogConfig.from_properties(props, base=self.default_log_config)
        if validate_only or not records:
            return
        self._commit(records)
        if resource_type == 2:
            cfg = self.topic_log_config(resource_name)
            topic = self.image.topic(resource_name)
            if topic is not None:
                for p in topic.partitions:
                    plog = self.logs.get_log(TopicPartition(resource_name, p))
                    if plog is not None:
                        plog.update_config(cfg)
        log.info("altered configs of %s", resource_name or "the broker")

    def allocate_producer_id(self) -> int:
        pid = self.producer_ids.take()
        if pid is None:
            records, block = controller_ops.allocate_producer_ids(self.image, self.node_id)
            self._commit(records)
            self.producer_ids.refill(block)
            pid = self.producer_ids.take()
            assert pid is not None, "a new block has ids"
        return pid

    # -- partitions --------------------------------------------------------------------------

    def serves_partition(self, topic: str, partition: int) -> bool:
        """The partition exists and this broker leads it (its log may not exist yet)."""
        part = self.image.partition(topic, partition)
        if part is None or part.leader != self.node_id:
            return False
        return not self.config.is_cluster or self.replicas.taking_roles

    def partition_log(self, topic: str, partition: int, *, create: bool = True
                      ) -> PartitionLog | None:
        """The log of a partition this broker leads (created on first use, unless ``create``
        is False: then None while it does not exist), else None.

        Logs of a single node are created lazily so that creating a topic costs a metadata
        append, not one directory, index preallocation and fsync per partition on the event
        loop; in a cluster the replica manager creates them when the metadata arrives."""
        if not create and self.logs.get_log(TopicPartition(topic, partition)) is None:
            return None
        return self.replicas.leader_log(topic, partition)

    def missing_partition_error(self, topic: str, partition: int) -> int:
        """Why :meth:`partition_log` gave None: NOT_LEADER_OR_FOLLOWER (6) when another broker
        of the cluster leads it (clients refresh metadata and go there), else
        UNKNOWN_TOPIC_OR_PARTITION (3)."""
        return int(self.replicas.missing_partition_error(topic, partition))

    def leader_epoch(self, topic: str, partition: int) -> int:
        return self.replicas.leader_epoch(topic, partition)

    def topic_name_of(self, topic_id: uuid.UUID) -> str | None:
        topic = self.image.topic_by_id(topic_id)
        return topic.name if topic is not None else None

    # -- periodic work ------------------------------------------------------------------------

    def flush_all(self) -> None:
        """Flush every log (blocking: call from a worker thread)."""
        for plog in list(self.logs.logs().values()):
            try:
                plog.flush()
            except Exception as exc:  # a log deleted meanwhile must not stop the others
                log.debug("flush of %s skipped: %s", plog.dir.name, exc)

    def run_retention(self) -> None:
        """Delete the segments retention.ms / retention.bytes let go (on the event loop:
        unlinking is quick, and logs must not change under it from another thread)."""
        deleted = self.logs.run_retention()
        if deleted:
            log.info("retention deleted %d segments", deleted)

    def checkpoint(self) -> None:
        """Write the recovery point, log start offset and high watermark checkpoints."""
        self.logs.checkpoint()
