"""The engine of log-quorum: describe the metadata quorum (DescribeQuorum, API 55).

Output (stdout). ``--status``: one ``NAME<TAB>VALUE`` line each for ClusterId, LeaderId,
LeaderEpoch, HighWatermark, MaxFollowerLag, MaxFollowerLagTimeMs, CurrentVoters and
CurrentObservers (node ids comma separated), as kafka-metadata-quorum prints them; with
``--json`` one object ``{"cluster_id", "leader", "leader_id", "leader_epoch", "high_watermark",
"max_follower_lag", "max_follower_lag_time_ms", "voters", "observers"}`` (ids as lists).
``--replication``: a table NODE, LOG-END-OFFSET, LAG, LAST-FETCH-MS-AGO,
LAST-CAUGHT-UP-MS-AGO, STATUS (Leader, Follower or Observer; -1 is unknown); with
``--json`` one object ``{"leader", "leader_id", "replicas": [{"node_id", "log_end_offset",
"lag", "last_fetch_timestamp", "last_caught_up_timestamp", "status"}]}``. ``leader_id`` is
``leader`` again, under kafka-metadata-quorum's name, for scripts written against it.

Exit status: :data:`EXIT_NO_LEADER` (10) when the quorum has no known leader (the report is
still printed), so ``log-quorum describe --status`` serves as a health check; 1 when no
node answers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tidelog.cli.clients.common import Stop, Waits, make_cluster, run_async
from tidelog.cli.errors import CliError, UsageError
from tidelog.cli.exit_codes import ExitCode
from tidelog.cli.runner import Program
from tidelog.cli.tables import write_table

if TYPE_CHECKING:
    from tidelog.client.cluster import Cluster

EXIT_NO_LEADER = ExitCode.NO_LEADER
METADATA_TOPIC = "__cluster_metadata"


@dataclass
class QuorumSettings:
    bootstrap: str
    status: bool = False
    replication: bool = False
    json: bool = False
    timeout: float = 30.0


def quorum(prog: Program, settings: QuorumSettings) -> int:
    """Run log-quorum describe; returns the exit status."""
    if settings.status == settings.replication:
        raise UsageError("describe needs exactly one of --status and --replication")
    waits = Waits(prog.diag)
    return run_async(lambda stop: _run(prog, settings, stop, waits), timeout=settings.timeout,
                     waits=waits)


async def _describe(s: QuorumSettings, waits: Waits) -> tuple[str, Any]:
    cluster = make_cluster(s.bootstrap, s.timeout, waits)
    try:
        return await describe_quorum(cluster)
    finally:
        await cluster.close()


async def describe_quorum(cluster: Cluster) -> tuple[str, Any]:
    """(cluster id, DescribeQuorum's partition answer) from any node (CliError if refused)."""
    from tidelog.client.errors import ClientError
    from tidelog.protocol.apis import ApiKey

    try:
        answer = await cluster.refresh([])
        conn = await cluster.any_node()
        reply = await conn.request(ApiKey.DESCRIBE_QUORUM, {
            "topics": [{"topic_name": METADATA_TOPIC,
                        "partitions": [{"partition_index": 0}]}],
        })
    except ClientError as exc:
        raise CliError(f"cannot describe the quorum: {exc}") from None
    if reply.error_code:
        raise CliError(f"DescribeQuorum failed with error {reply.error_code}")
    part = reply.topics[0].partitions[0]
    if part.error_code:
        raise CliError(f"DescribeQuorum failed with error {part.error_code}")
    return str(answer.cluster_id or ""), part


def _ago(now_ms: int, ts: int) -> int:
    return -1 if ts < 0 else max(0, now_ms - ts)


async def _run(prog: Program, s: QuorumSettings, stop: Stop, waits: Waits) -> int:
    cluster_id, part = await _describe(s, waits)
    leader = part.leader_id
    voters = list(part.current_voters)
    observers = list(part.observers)
    now_ms = int(time.time() * 1000)
    leader_end = next((v.log_end_offset for v in voters if v.replica_id == leader), -1)
    followers = [v for v in voters if v.replica_id != leader and v.log_end_offset >= 0]
    max_lag = max((leader_end - v.log_end_offset for v in followers), default=0)
    lag_time = max((_ago(now_ms, v.last_caught_up_timestamp) for v in followers
                    if v.last_caught_up_timestamp >= 0), default=0)
    if s.status:
        doc = {
            # "leader" as in every program's JSON; "leader_id" (kafka-metadata-quorum's
            # LeaderId) stays for the scripts written against it.
            "cluster_id": cluster_id, "leader": leader, "leader_id": leader,
            "leader_epoch": part.leader_epoch,
            "high_watermark": part.high_watermark, "max_follower_lag": max_lag,
            "max_follower_lag_time_ms": lag_time,
            "voters": [v.replica_id for v in voters],
            "observers": [o.replica_id for o in observers],
        }
        if s.json:
            prog.out.json(doc)
        else:
            prog.out.lines([
                f"ClusterId\t{cluster_id}", f"LeaderId\t{leader}",
                f"LeaderEpoch\t{part.leader_epoch}", f"HighWatermark\t{part.high_watermark}",
                f"MaxFollowerLag\t{max_lag}", f"MaxFollowerLagTimeMs\t{lag_time}",
                "CurrentVoters\t" + ",".join(str(v) for v in doc["voters"]),
                "CurrentObservers\t" + ",".join(str(o) for o in doc["observers"]),
            ])
    else:
        rows = []
        for r, kind in [(v, "Follower") for v in voters] + [(o, "Observer") for o in observers]:
            status = "Leader" if r.replica_id == leader else kind
            known = r.log_end_offset >= 0 and leader_end >= 0
            lag = leader_end - r.log_end_offset if known else -1
            rows.append({
                "node_id": r.replica_id, "log_end_offset": r.log_end_offset, "lag": lag,
                "last_fetch_timestamp": r.last_fetch_timestamp,
                "last_caught_up_timestamp": r.last_caught_up_timestamp, "status": status,
            })
        if s.json:
            prog.out.json({"leader": leader, "leader_id": leader, "replicas": rows})
        else:
            write_table(
                prog.out,
                ["NODE", "LOG-END-OFFSET", "LAG", "LAST-FETCH-MS-AGO",
                 "LAST-CAUGHT-UP-MS-AGO", "STATUS"],
                [[r["node_id"], r["log_end_offset"], r["lag"],
                  _ago(now_ms, r["last_fetch_timestamp"]),
                  _ago(now_ms, r["last_caught_up_timestamp"]), r["status"]] for r in rows],
            )
    if leader < 0:
        prog.diag.error("the quorum has no leader")
        return EXIT_NO_LEADER
    return 0
