"""One scrape: the broker's counters and its state as Prometheus metrics, named as Kafka's.

Names and labels are the ones the Prometheus JMX exporter's Kafka rules
(``lowercaseOutputName``) give the same MBeans, so dashboards made for Kafka find them:

* ``kafka_server_brokertopicmetrics_{messagesin,bytesin,bytesout,replicationbytesout}_total``
  with a ``topic`` label per topic and one sample without it for all topics (as the exporter
  shows BrokerTopicMetrics with and without ``topic``);
* ``kafka_server_replicamanager_{partitioncount,leadercount,underreplicatedpartitions,
  underminisrpartitioncount}`` gauges, ``..._{isrshrinks,isrexpands}_total`` counters;
* ``kafka_controller_kafkacontroller_{activecontrollercount,offlinepartitionscount,
  globaltopiccount,globalpartitioncount,activebrokercount,fencedbrokercount}`` (the last five
  are 0 on a node that is not the active controller, as in Kafka);
* ``kafka_network_requestmetrics_requests_total{request,version}`` and the summary
  ``kafka_network_requestmetrics_totaltimems{request,quantile}`` (with ``_sum``/``_count``);
  ``kafka_network_requestchannel_requestqueuesize`` (requests read and not yet answered) and
  ``kafka_server_socketservermetrics_connection_count``;
* the summary ``kafka_log_logflushstats_logflushrateandtimems``;
* ``kafka_log_log_{size,logstartoffset,logendoffset,numlogsegments}{topic,partition}`` for
  every log in the log dir;
* ``kafka_consumergroup_{current_offset,lag}{consumergroup,topic,partition}`` and
  ``kafka_consumergroup_lag_sum{consumergroup}`` (the names of kafka_exporter, which
  dashboards use for lag: Kafka brokers export none) for the groups this broker coordinates,
  for partitions with a log here (lag = the log's high watermark - the committed offset, as
  ``log-groups describe`` computes it from the leader's);
* the metadata quorum as Kafka's ``raft-metrics``: ``kafka_server_raft_metrics_{current_leader,
  current_epoch,high_watermark,log_end_offset}``, the applied offset as
  ``kafka_server_broker_metadata_metrics_last_applied_record_offset``, and on the quorum
  leader ``tidelog_metadata_quorum_replica_lag{replica,kind}`` (entries each voter and
  observer trails the leader's log end; Kafka shows this only through kafka-metadata-quorum);
* ``tidelog_ready`` (what ``/readyz`` answers), ``tidelog_broker_info{node_id,cluster_id}``
  (1; tells a scraper such as ``log-top`` which node answered) and the usual ``process_*``
  metrics.

Computed from state on the event loop; nothing here blocks or touches the disk beyond what
the logs hold in memory.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from typing import TYPE_CHECKING

from tidelog.broker.metrics.counters import BrokerMetrics
from tidelog.broker.metrics.exposition import Exposition
from tidelog.broker.metrics.timer import Timer
from tidelog.protocol.apis import ApiKey
from tidelog.storage.topic_partition import TopicPartition

if TYPE_CHECKING:
    from tidelog.broker.core import BrokerCore

BTM = "kafka_server_brokertopicmetrics_"
RM = "kafka_server_replicamanager_"
KC = "kafka_controller_kafkacontroller_"
RAFT = "kafka_server_raft_metrics_"


def request_name(api_key: int) -> str:
    """Kafka's name of an API (``request`` label): LIST_OFFSETS -> ListOffsets."""
    try:
        name = ApiKey(api_key).name
    except ValueError:
        return str(api_key)
    return "".join(part.capitalize() for part in name.split("_"))


def scrape(core: BrokerCore, metrics: BrokerMetrics, *, inflight: Callable[[], int],
           connections: Callable[[], int], ready: bool) -> str:
    out = Exposition()
    _topic_traffic(out, metrics)
    _requests(out, metrics, inflight(), connections())
    _summary(out, "kafka_log_logflushstats_logflushrateandtimems",
             "Log flush (fdatasync) time in milliseconds.", [(None, metrics.flush_times)])
    if core.metadata is not None:
        _replicas(out, core, metrics)
        _controller(out, core)
        _logs(out, core)
        _group_lag(out, core)
        _quorum(out, core)
    out.add("tidelog_ready", "gauge", "1 when /readyz answers 200.", 1 if ready else 0)
    out.add("tidelog_broker_info", "gauge", "This node's id and cluster (always 1).", 1,
            {"node_id": core.node_id, "cluster_id": core.cluster_id})
    _process(out, metrics)
    return out.text()


def _topic_traffic(out: Exposition, m: BrokerMetrics) -> None:
    fields = (
        ("messagesin", "messages_in", "Records appended as leader."),
        ("bytesin", "bytes_in", "Record batch bytes produced to this broker as leader."),
        ("bytesout", "bytes_out", "Record batch bytes fetched by consumers."),
        ("replicationbytesout", "replication_bytes_out",
         "Record batch bytes fetched by follower replicas."),
    )
    topics = sorted(m.topics.items())
    for metric, attr, help_text in fields:
        name = f"{BTM}{metric}_total"
        total = sum(getattr(c, attr) for _, c in topics)
        out.add(name, "counter", help_text, total)
        out.add_all(name, "counter", help_text,
                    (({"topic": t}, getattr(c, attr)) for t, c in topics))


def _requests(out: Exposition, m: BrokerMetrics, inflight: int, connections: int) -> None:
    out.add_all(
        "kafka_network_requestmetrics_requests_total", "counter",
        "Requests answered, by API and version.",
        (({"request": request_name(k), "version": v}, n)
         for (k, v), n in sorted(m.requests.items())),
    )
    _summary(out, "kafka_network_requestmetrics_totaltimems",
             "Time from a decoded request to its encoded answer, in milliseconds.",
             [({"request": request_name(k)}, t) for k, t in sorted(m.request_times.items())])
    out.add("kafka_network_requestchannel_requestqueuesize", "gauge",
            "Requests read from clients and not yet answered.", inflight)
    out.add("kafka_server_socketservermetrics_connection_count", "gauge",
            "Open client connections.", connections)


def _summary(out: Exposition, name: str, help_text: str,
             timers: list[tuple[dict[str, str] | None, Timer]]) -> None:
    from tidelog.broker.metrics.exposition import sample

    lines = out.family(name, "summary", help_text)
    for labels, timer in timers:
        base = dict(labels or {})
        for q, ms in timer.quantiles():
            lines.append(sample(name, {**base, "quantile": q}, ms))
        lines.append(sample(name + "_sum", base, timer.sum_ms))
        lines.append(sample(name + "_count", base, timer.count))


def _replicas(out: Exposition, core: BrokerCore, m: BrokerMetrics) -> None:
    replicas = core.replicas
    parts = list(replicas.partitions.values())
    led = [p for p in parts if p.is_leader]
    under = sum(1 for p in led if len(p.isr) < len(p.replicas))
    under_min = sum(1 for p in led if len(p.isr) < replicas.min_insync_replicas(p.tp.topic))
    out.add(RM + "partitioncount", "gauge", "Partitions this broker hosts.", len(parts))
    out.add(RM + "leadercount", "gauge", "Partitions this broker leads.", len(led))
    out.add(RM + "underreplicatedpartitions", "gauge",
            "Led partitions whose ISR is smaller than their replica set.", under)
    out.add(RM + "underminisrpartitioncount", "gauge",
            "Led partitions whose ISR is smaller than min.insync.replicas.", under_min)
    out.add(RM + "isrshrinks_total", "counter", "ISR shrinks of led partitions.",
            m.isr_shrinks)
    out.add(RM + "isrexpands_total", "counter", "ISR expands of led partitions.",
            m.isr_expands)


def _controller(out: Exposition, core: BrokerCore) -> None:
    assert core.metadata is not None
    config = core.config
    active = config.is_controller and core.metadata.leader_id == core.node_id
    image = core.image
    out.add(KC + "activecontrollercount", "gauge",
            "1 on the active controller (the metadata quorum's leader).", int(active))
    live = {b for b, img in image.brokers.items() if not img.fenced}
    partitions = [p for t in image.topics_by_id.values() for p in t.partitions.values()]
    offline = sum(1 for p in partitions if p.leader < 0 or p.leader not in live)
    values = {
        "offlinepartitionscount": (offline, "Partitions without a live leader."),
        "globaltopiccount": (len(image.topics_by_id), "Topics in the cluster."),
        "globalpartitioncount": (len(partitions), "Partitions in the cluster."),
        "activebrokercount": (len(live), "Registered, unfenced brokers."),
        "fencedbrokercount": (len(image.brokers) - len(live), "Registered, fenced brokers."),
    }
    for name, (value, help_text) in values.items():
        out.add(KC + name, "gauge", help_text + " (0 off the active controller)",
                value if active else 0)


def _logs(out: Exposition, core: BrokerCore) -> None:
    logs = sorted(core.logs.logs().items())
    fields: tuple[tuple[str, str, Callable[..., int]], ...] = (
        ("size", "Bytes of the partition's segment files.", lambda g: g.size_in_bytes),
        ("logstartoffset", "The partition's log start offset.", lambda g: g.log_start_offset),
        ("logendoffset", "The partition's log end offset.", lambda g: g.log_end_offset),
        ("numlogsegments", "Segments of the partition's log.", lambda g: g.segment_count),
    )
    for metric, help_text, value in fields:
        out.add_all(f"kafka_log_log_{metric}", "gauge", help_text,
                    (({"topic": tp.topic, "partition": tp.partition}, value(plog))
                     for tp, plog in logs))


def _group_lag(out: Exposition, core: BrokerCore) -> None:
    offsets: list[tuple[dict[str, object], int]] = []
    lags: list[tuple[dict[str, object], int]] = []
    sums: list[tuple[dict[str, object], int]] = []
    for group in sorted(core.groups.list_groups(), key=lambda g: g.group_id):
        total = 0
        for (topic, p), value in sorted(group.offsets.items()):
            plog = core.logs.get_log(TopicPartition(topic, p))
            if plog is None:
                continue
            labels: dict[str, object] = {"consumergroup": group.group_id, "topic": topic,
                                         "partition": p}
            lag = max(0, plog.high_watermark - value.offset)
            offsets.append((labels, value.offset))
            lags.append((labels, lag))
            total += lag
        sums.append(({"consumergroup": group.group_id}, total))
    out.add_all("kafka_consumergroup_current_offset", "gauge",
                "Committed offset of a group on a partition.", offsets)
    out.add_all("kafka_consumergroup_lag", "gauge",
                "High watermark minus the group's committed offset.", lags)
    out.add_all("kafka_consumergroup_lag_sum", "gauge",
                "The group's lag over the partitions counted here.", sums)


def _quorum(out: Exposition, core: BrokerCore) -> None:
    assert core.metadata is not None
    quorum = core.metadata
    st = quorum.status()
    out.add(RAFT + "current_leader", "gauge", "The metadata quorum's leader (-1 unknown).",
            -1 if st.leader_id is None else st.leader_id)
    out.add(RAFT + "current_epoch", "gauge", "The metadata quorum's epoch.", st.epoch)
    out.add(RAFT + "high_watermark", "gauge", "Committed end of the metadata log.",
            st.high_watermark)
    out.add(RAFT + "log_end_offset", "gauge", "End of this node's metadata log.",
            st.log_end_offset)
    out.add("kafka_server_broker_metadata_metrics_last_applied_record_offset", "gauge",
            "Metadata log offset the image is built to.", quorum.applied)
    samples = []
    for kind, replicas in (("voter", st.voters), ("observer", st.observers)):
        for r in replicas:
            if r.log_end_offset >= 0:
                samples.append(({"replica": r.node_id, "kind": kind},
                                max(0, st.log_end_offset - r.log_end_offset)))
    out.add_all("tidelog_metadata_quorum_replica_lag", "gauge",
                "Entries a quorum replica trails the leader's log end (on the leader).", samples)


def _process(out: Exposition, m: BrokerMetrics) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.add("process_cpu_seconds_total", "counter", "User and system CPU time.",
            usage.ru_utime + usage.ru_stime)
    out.add("process_start_time_seconds", "gauge", "Start time since the epoch.",
            m.start_time)
    try:  # Linux: /proc (elsewhere these two are left out)
        with open("/proc/self/statm", "rb") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        fds = len(os.listdir("/proc/self/fd"))
    except (OSError, ValueError, IndexError):
        return
    out.add("process_resident_memory_bytes", "gauge", "Resident memory.", rss)
    out.add("process_open_fds", "gauge", "Open file descriptors.", fds)
