"""The engine of log-top: snapshots of a cluster from the Kafka admin APIs and the brokers'
metrics endpoints, and the rates between two of them.

A :class:`Sample` is one read of the cluster: Metadata (brokers, controller, every
partition's leader, replicas and ISR), ListOffsets of every partition's end, each group's
committed offsets (ListGroups, OffsetFetch; lag is the end minus the committed offset, as
``log-groups describe`` computes it, over the partitions whose end is known: a deleted
topic's offsets do not count), DescribeQuorum,
and, for each ``--metrics HOST:PORT``, a scrape of ``/metrics`` (logd's ``metrics_listen``).
:func:`snapshot` turns two samples into the document ``log-top --json`` prints:

``{"time_ms", "interval_s", "cluster_id", "controller", "quorum": {"leader", "leader_epoch",
"high_watermark", "max_follower_lag", "replicas": [{"node_id", "status", "log_end_offset",
"lag"}]}, "brokers": [{"node_id", "host", "port", "state", "partitions", "leaders",
"metrics", "ready"}], "topics": [{"topic", "partitions", "under_replicated", "offline",
"records_in_per_s", "bytes_in_per_s", "bytes_out_per_s"}], "under_replicated": N,
"offline": N, "under_replicated_partitions": [{"topic", "partition", "leader", "replicas",
"isr", "offline"}], "groups": [{"group", "state", "lag", "partitions"}]}``.

Rates are per second over ``interval_s`` (the time between the two samples). Records in per
second come from the metrics (``messagesin``) when every leader of the topic is scraped, else
from the growth of the partitions' end offsets; bytes in and out exist only through the
metrics, when every leader is scraped (null otherwise). A broker's ``partitions`` counts the
replicas it hosts, ``leaders`` those it leads. A broker is ``up`` when Metadata lists it, else
``down`` (a quorum member that Metadata does not list: stopped or fenced); ``ready`` is its
``/readyz`` answer
(null when its metrics are not scraped). ``groups`` holds the groups with the largest lag
first. A metrics endpoint that does not answer leaves its broker's figures null and is said
on stderr with ``-v``; a group listing that fails gives no groups that round, a group whose
coordinator does not answer is left out of it. Each admin request waits at most
:data:`REQUEST_TIMEOUT_S`. Metadata failing is an error with
``--once``; the live view shows it and tries again next interval. ``--groups 0`` asks
nothing about groups.

Reads only: nothing is created or committed (no topic auto-creation, no group joined).
"""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tidelog.cli.bootstrap import parse_bootstrap
from tidelog.cli.clients import prom_text

if TYPE_CHECKING:
    from tidelog.client.cluster import BrokerInfo, Cluster, TopicInfo

BTM = "kafka_server_brokertopicmetrics_"
#: The orders of the topics table (``--sort``; ``s`` in the live view cycles through them).
SORTS = ("records-in", "bytes-in", "bytes-out", "name", "under-replicated")
#: A metrics listener that takes longer is left out of this sample (a stopped broker's kernel
#: still accepts the connection: only a timeout ends the wait).
SCRAPE_TIMEOUT_S = 2.0
#: Each admin request of a sample waits at most this long (or --timeout, if shorter), so one
#: stopped broker delays a refresh by seconds, not by the whole --timeout.
REQUEST_TIMEOUT_S = 5.0


@dataclass
class TopSettings:
    bootstrap: str
    metrics: str = ""
    once: bool = False
    json: bool = False
    interval: float = 1.0
    timeout: float = 30.0
    sort: str = "records-in"
    topic: str | None = None
    groups: int = 10
    internal: bool = False


@dataclass
class Scrape:
    address: str
    samples: prom_text.Samples | None = None
    ready: bool | None = None
    node_id: int | None = None
    error: str | None = None


@dataclass
class Sample:
    time: float
    cluster_id: str
    controller: int
    brokers: dict[int, BrokerInfo]
    topics: dict[str, TopicInfo]
    ends: dict[tuple[str, int], int]
    groups: list[dict[str, Any]]
    quorum: dict[str, Any] | None
    scrapes: list[Scrape] = field(default_factory=list)


def metrics_addresses(text: str) -> list[str]:
    """``--metrics HOST:PORT,...`` (checked like a bootstrap list) as ``host:port``."""
    from tidelog.cli.errors import UsageError

    if not text.strip():
        return []
    try:
        servers = parse_bootstrap(text)
    except UsageError as exc:
        raise UsageError(f"--metrics: {exc}".replace("bootstrap server", "address")) from None
    return [f"[{s.host}]:{s.port}" if ":" in s.host else f"{s.host}:{s.port}" for s in servers]


def _http_get(address: str, path: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{address}{path}", timeout=SCRAPE_TIMEOUT_S) as r:
            return int(r.status), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode("utf-8", "replace")


def _scrape(address: str) -> Scrape:
    result = Scrape(address)
    try:
        status, text = _http_get(address, "/metrics")
        if status != 200:
            result.error = f"/metrics answered {status}"
            return result
        result.samples = prom_text.parse(text)
        result.ready = _http_get(address, "/readyz")[0] == 200
    except (OSError, ValueError) as exc:  # urllib's errors are OSErrors
        result.error = str(getattr(exc, "reason", exc))
        return result
    for (name, labels), _ in result.samples.items():
        if name == "tidelog_broker_info":
            node = dict(labels).get("node_id")
            if node is not None and node.isdigit():
                result.node_id = int(node)
    return result


async def _quorum(cluster: Cluster) -> dict[str, Any] | None:
    from tidelog.cli.clients.quorum import describe_quorum
    from tidelog.cli.errors import CliError

    try:
        _, part = await describe_quorum(cluster)
    except CliError:
        return None
    leader = part.leader_id
    voters = list(part.current_voters)
    end = next((v.log_end_offset for v in voters if v.replica_id == leader), -1)
    replicas = []
    for r, kind in [(v, "Follower") for v in voters] + \
            [(o, "Observer") for o in part.observers]:
        known = r.log_end_offset >= 0 and end >= 0
        replicas.append({"node_id": r.replica_id,
                         "status": "Leader" if r.replica_id == leader else kind,
                         "log_end_offset": r.log_end_offset,
                         "lag": end - r.log_end_offset if known else -1})
    lags = [r["lag"] for r in replicas if r["status"] == "Follower" and r["lag"] >= 0]
    return {"leader": leader, "leader_epoch": part.leader_epoch,
            "high_watermark": part.high_watermark, "max_follower_lag": max(lags, default=0),
            "replicas": replicas}


async def _ends(cluster: Cluster, topics: dict[str, TopicInfo]) -> dict[tuple[str, int], int]:
    import asyncio

    from tidelog.client.errors import ClientError
    from tidelog.client.offsets import list_offsets

    ends: dict[tuple[str, int], int] = {}

    async def one(name: str, info: TopicInfo) -> None:
        parts = [p for p, part in info.partitions.items() if part.leader >= 0]
        if not parts:
            return
        try:
            found = await list_offsets(cluster, name, parts, -1, retry=False)
        except ClientError:
            return  # a leader moving: its rate is unknown this round
        for p, (offset, _) in found.items():
            ends[(name, p)] = offset

    await asyncio.gather(*(one(n, i) for n, i in topics.items()))
    return ends


async def _committed(cluster: Cluster) -> list[tuple[str, str, dict[tuple[str, int], int]]]:
    """(group, state, committed offsets) of every group; a group whose coordinator does not
    answer within :data:`REQUEST_TIMEOUT_S` is left out this round."""
    import asyncio

    from tidelog.client.errors import ClientError
    from tidelog.client.group_admin import GroupAdmin

    admin = GroupAdmin(cluster)
    try:
        listings = await asyncio.wait_for(admin.list_groups(), REQUEST_TIMEOUT_S)
    except (ClientError, TimeoutError):
        return []  # a broker not answering: no groups this round

    async def one(group: str, state: str) -> tuple[str, str, dict[tuple[str, int], int]] | None:
        try:
            return group, state, await asyncio.wait_for(admin.committed(group),
                                                        REQUEST_TIMEOUT_S)
        except (ClientError, TimeoutError):
            return None  # its coordinator is moving: shown again next round

    found = await asyncio.gather(*(one(g.group_id, g.state) for g in listings))
    return [f for f in found if f is not None]


def _group_rows(committed: list[tuple[str, str, dict[tuple[str, int], int]]],
                ends: dict[tuple[str, int], int]) -> list[dict[str, Any]]:
    """Lag per group: end offset - committed offset over its partitions whose end is known
    (as log-groups describe computes it; a deleted topic's offsets do not count)."""
    rows: list[dict[str, Any]] = []
    for group, state, offsets in committed:
        known = [(tp, off) for tp, off in offsets.items() if tp in ends]
        rows.append({"group": group, "state": state,
                     "lag": sum(max(0, ends[tp] - off) for tp, off in known),
                     "partitions": len(known)})
    rows.sort(key=lambda r: (-r["lag"], r["group"]))
    return rows


async def _no_groups() -> list[tuple[str, str, dict[tuple[str, int], int]]]:
    return []  # --groups 0: nothing asked


async def take_sample(cluster: Cluster, settings: TopSettings) -> Sample:
    import asyncio  # here: log-top --help does not need asyncio

    answer = await cluster.refresh(None, auto_create=False)
    topics = {n: t for n, t in cluster.topics.items()
              if (settings.internal or not t.internal)
              and (settings.topic is None or fnmatch.fnmatchcase(n, settings.topic))}
    scrapes = asyncio.gather(*(asyncio.to_thread(_scrape, a)
                               for a in metrics_addresses(settings.metrics)))
    # the end of every partition (not only the topics shown): group lag needs them too
    ends, committed, quorum, scraped = await asyncio.gather(
        _ends(cluster, dict(cluster.topics)),
        _committed(cluster) if settings.groups else _no_groups(), _quorum(cluster), scrapes)
    return Sample(time.time(), str(answer.cluster_id or ""), cluster.controller_id,
                  dict(cluster.brokers), topics, ends, _group_rows(committed, ends), quorum,
                  list(scraped))


def _rate(now: float | None, before: float | None, seconds: float) -> float | None:
    if now is None or before is None or seconds <= 0:
        return None
    return max(0.0, now - before) / seconds


def _topic_counter(sample: Sample, name: str) -> dict[str, float] | None:
    """Per topic, the counter summed over every scraped broker (None: nothing scraped)."""
    scraped = [s.samples for s in sample.scrapes if s.samples is not None]
    if not scraped:
        return None
    total: dict[str, float] = {}
    for samples in scraped:
        for topic, v in prom_text.by_label(samples, name, "topic").items():
            total[topic] = total.get(topic, 0.0) + v
    return total


def snapshot(before: Sample, now: Sample, settings: TopSettings) -> dict[str, Any]:
    seconds = now.time - before.time
    scraped_nodes = {s.node_id for s in now.scrapes if s.samples is not None}
    counters = {key: (_topic_counter(before, BTM + key + "_total"),
                      _topic_counter(now, BTM + key + "_total"))
                for key in ("messagesin", "bytesin", "bytesout")}

    def metric_rate(key: str, topic: str) -> float | None:
        old, new = counters[key]
        if old is None or new is None:
            return None
        return _rate(new.get(topic, 0.0), old.get(topic, 0.0), seconds)

    topics = []
    problems = []
    hosted: dict[int, int] = {}
    led: dict[int, int] = {}
    for name, info in sorted(now.topics.items()):
        under = offline = 0
        for p, part in sorted(info.partitions.items()):
            for r in part.replicas:
                hosted[r] = hosted.get(r, 0) + 1
            if part.leader >= 0:
                led[part.leader] = led.get(part.leader, 0) + 1
            is_offline = part.leader < 0 or part.leader not in now.brokers
            if is_offline or len(part.isr) < len(part.replicas):
                under += not is_offline
                offline += is_offline
                problems.append({"topic": name, "partition": p, "leader": part.leader,
                                 "replicas": list(part.replicas), "isr": list(part.isr),
                                 "offline": is_offline})
        # the metrics count at leaders: a topic's figures are whole only if all are scraped
        leaders = {part.leader for part in info.partitions.values() if part.leader >= 0}
        whole = leaders <= scraped_nodes
        records = metric_rate("messagesin", name) if whole else None
        if records is None:
            keys = [(name, p) for p in info.partitions]
            if all(k in now.ends and k in before.ends for k in keys):
                records = _rate(sum(now.ends[k] for k in keys),
                                sum(before.ends[k] for k in keys), seconds)
        topics.append({"topic": name, "partitions": len(info.partitions),
                       "under_replicated": under, "offline": offline,
                       "records_in_per_s": records,
                       "bytes_in_per_s": metric_rate("bytesin", name) if whole else None,
                       "bytes_out_per_s": metric_rate("bytesout", name) if whole else None})
    brokers = _brokers(now, hosted, led)
    return {
        "time_ms": int(now.time * 1000), "interval_s": round(seconds, 3),
        "cluster_id": now.cluster_id, "controller": now.controller, "quorum": now.quorum,
        "brokers": brokers, "topics": sort_topics(topics, settings.sort),
        "under_replicated": sum(t["under_replicated"] for t in topics),
        "offline": sum(t["offline"] for t in topics),
        "under_replicated_partitions": problems,
        "groups": now.groups[:settings.groups] if settings.groups >= 0 else now.groups,
    }


def _brokers(now: Sample, hosted: dict[int, int], led: dict[int, int]) -> list[dict[str, Any]]:
    by_node = {s.node_id: s for s in now.scrapes if s.node_id is not None}
    ids = set(now.brokers)
    if now.quorum is not None:
        ids |= {r["node_id"] for r in now.quorum["replicas"]}
    rows = []
    for node in sorted(ids):
        info = now.brokers.get(node)
        scrape = by_node.get(node)
        rows.append({
            "node_id": node, "host": info.host if info else None,
            "port": info.port if info else None, "state": "up" if info else "down",
            "partitions": hosted.get(node, 0), "leaders": led.get(node, 0),
            "metrics": scrape.address if scrape else None,
            "ready": scrape.ready if scrape else None,
        })
    return rows


def sort_topics(topics: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    if key == "name":
        return sorted(topics, key=lambda t: t["topic"])
    if key == "under-replicated":
        return sorted(topics, key=lambda t: (-(t["under_replicated"] + t["offline"]),
                                             t["topic"]))
    field_name = {"records-in": "records_in_per_s", "bytes-in": "bytes_in_per_s",
                  "bytes-out": "bytes_out_per_s"}[key]
    return sorted(topics, key=lambda t: (-(t[field_name] or 0.0), t["topic"]))
