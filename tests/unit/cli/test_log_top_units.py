"""log-top's pure parts: the Prometheus text it reads back (escapes included) is what logd's
exposition wrote, rates come from two samples (metrics when every leader is scraped, else end
offsets), problems are counted and listed, the view's keys cycle sorts and filter, and the
view renders."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from tidelog.broker.metrics.exposition import Exposition
from tidelog.cli.clients import prom_text
from tidelog.cli.clients.top import SORTS, Sample, Scrape, TopSettings, snapshot
from tidelog.cli.clients.top_live import ViewState, render
from tidelog.client.cluster import BrokerInfo, PartitionInfo, TopicInfo


def test_prometheus_text_reads_back() -> None:
    out = Exposition()
    out.add("a_total", "counter", "h", 3, {"topic": 'we"ird\\na\nme', "x": "1"})
    out.add("b", "gauge", "h", 2.5)
    samples = prom_text.parse(out.text() + "garbage line {\nc{bad} 1\n")
    assert samples[("a_total", (("topic", 'we"ird\\na\nme'), ("x", "1")))] == 3
    assert samples[("b", ())] == 2.5
    assert len(samples) == 2


def _scrape(node: int, messages: float, bytes_in: float) -> Scrape:
    out = Exposition()
    out.add("tidelog_broker_info", "gauge", "h", 1, {"node_id": node, "cluster_id": "c"})
    out.add("kafka_server_brokertopicmetrics_messagesin_total", "counter", "h", messages,
            {"topic": "a"})
    out.add("kafka_server_brokertopicmetrics_bytesin_total", "counter", "h", bytes_in,
            {"topic": "a"})
    return Scrape(f"127.0.0.1:{9300 + node}", prom_text.parse(out.text()), True, node)


def _sample(t: float, ends: dict[tuple[str, int], int], scrapes: list[Scrape],
            isr_b: tuple[int, ...] = (1, 2)) -> Sample:
    topics = {
        "a": TopicInfo("a", {0: PartitionInfo(0, 1, 0, (1, 2), (1, 2))}),
        "b": TopicInfo("b", {0: PartitionInfo(0, 2, 0, (1, 2), isr_b),
                             1: PartitionInfo(1, -1, 0, (1, 2), ())}),
    }
    brokers = {1: BrokerInfo(1, "h1", 1), 2: BrokerInfo(2, "h2", 2)}
    groups: list[dict[str, Any]] = [{"group": "g", "state": "Stable", "lag": 7,
                                     "partitions": 1}]
    quorum = {"leader": 1, "leader_epoch": 2, "high_watermark": 9, "max_follower_lag": 0,
              "replicas": [{"node_id": n, "status": "Leader" if n == 1 else "Follower",
                            "log_end_offset": 9, "lag": 0} for n in (1, 2, 3)]}
    return Sample(t, "c", 1, brokers, topics, ends, groups, quorum, scrapes)


def test_snapshot_rates_and_problems() -> None:
    before = _sample(100.0, {("a", 0): 10, ("b", 0): 0, ("b", 1): 0}, [_scrape(1, 50, 500)])
    now = _sample(102.0, {("a", 0): 30, ("b", 0): 8, ("b", 1): 0}, [_scrape(1, 250, 2500)],
                  isr_b=(2,))
    doc = snapshot(before, now, TopSettings(bootstrap="x", sort="name"))
    a, b = doc["topics"]
    # a's leader (1) is scraped: its rate is the metrics' (100/s), not the offsets' (10/s)
    assert (a["topic"], a["records_in_per_s"], a["bytes_in_per_s"]) == ("a", 100.0, 1000.0)
    # b's leaders are not all scraped: records from the end offsets, no bytes
    assert (b["records_in_per_s"], b["bytes_in_per_s"]) == (4.0, None)
    assert (b["under_replicated"], b["offline"]) == (1, 1)
    assert (doc["under_replicated"], doc["offline"]) == (1, 1)
    assert [(p["topic"], p["partition"], p["offline"])
            for p in doc["under_replicated_partitions"]] == [("b", 0, False), ("b", 1, True)]
    brokers = {x["node_id"]: x for x in doc["brokers"]}
    assert brokers[3]["state"] == "down"  # in the quorum, not in Metadata
    assert (brokers[1]["partitions"], brokers[1]["leaders"], brokers[1]["ready"]) == (3, 1, True)
    assert brokers[2]["ready"] is None and brokers[2]["metrics"] is None
    assert doc["interval_s"] == 2.0 and doc["groups"][0]["lag"] == 7


def test_snapshot_without_metrics_uses_end_offsets() -> None:
    before = _sample(0.0, {("a", 0): 10, ("b", 0): 0, ("b", 1): 0}, [])
    now = _sample(4.0, {("a", 0): 30, ("b", 0): 8, ("b", 1): 0}, [])
    doc = snapshot(before, now, TopSettings(bootstrap="x"))
    rates = {t["topic"]: (t["records_in_per_s"], t["bytes_in_per_s"]) for t in doc["topics"]}
    assert rates == {"a": (5.0, None), "b": (2.0, None)}
    assert [t["topic"] for t in doc["topics"]] == ["a", "b"]  # records-in, largest first


def test_view_keys_and_render() -> None:
    view = ViewState("records-in")
    view.key("s")
    assert view.sort == SORTS[1]
    view.key("u")
    assert view.problems_only
    before = _sample(0.0, {("a", 0): 10, ("b", 0): 0, ("b", 1): 0}, [])
    now = _sample(1.0, {("a", 0): 11, ("b", 0): 0, ("b", 1): 0}, [], isr_b=(2,))
    console = Console(width=140, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(render(snapshot(before, now, TopSettings(bootstrap="x")), view))
    text = console.export_text()
    assert "UNDER-REPLICATED PARTITIONS" in text and "GROUPS" in text
    topics = text.split("TOPICS", 1)[1].split("UNDER-REPLICATED PARTITIONS", 1)[0]
    assert " b " in topics and " a " not in topics  # only problems
    view.key("q")
    assert view.quit


def test_group_lag_counts_partitions_with_a_known_end() -> None:
    from tidelog.cli.clients.top import _group_rows

    rows = _group_rows([("g1", "Empty", {("a", 0): 5, ("gone", 0): 1}),
                        ("g2", "Stable", {("a", 0): 9})], {("a", 0): 10})
    assert rows == [{"group": "g1", "state": "Empty", "lag": 5, "partitions": 1},
                    {"group": "g2", "state": "Stable", "lag": 1, "partitions": 1}]
