"""Handler: DescribeQuorum (55), the metadata quorum as ``log-quorum`` reports it.

Any node answers: a single node from its own one-voter quorum; a node of a cluster asks the
active controller over the quorum connections (its own view when none answers, which then
carries leader -1 if no leader is known). The one partition described is
``__cluster_metadata-0``; a request for any other answers UNKNOWN_TOPIC_OR_PARTITION. Times
are epoch milliseconds (-1: unknown). From v2 the answer also lists every voter's endpoints
(``nodes``: a cluster's ``CONTROLLER`` listeners from ``quorum``; a single node, which has no
separate controller listener, its client listener) and carries null error messages and zero
directory ids (tidelog's replicas have no directory ids, as KIP-853's "unknown").
"""

from __future__ import annotations

from typing import Any

from tidelog.broker.core import BrokerCore
from tidelog.broker.handlers.base import Handler
from tidelog.broker.quorum.cluster import describe_quorum
from tidelog.protocol.apis import ApiKey
from tidelog.protocol.data import Struct
from tidelog.protocol.errors import ErrorCode
from tidelog.protocol.header import RequestHeader

METADATA_TOPIC = "__cluster_metadata"


def _replica(r: dict[str, Any]) -> Struct:
    return Struct(replica_id=r["node_id"], log_end_offset=r["log_end_offset"],
                  last_fetch_timestamp=r["last_fetch_ms"],
                  last_caught_up_timestamp=r["last_caught_up_ms"])


async def describe(core: BrokerCore) -> dict[str, Any]:
    """The quorum description this node can give (the active controller's when reachable)."""
    if core.cluster is not None:
        return await core.cluster.describe_leader()
    assert core.metadata is not None
    return describe_quorum(core.metadata)


async def describe_quorum_handler(
    core: BrokerCore, header: RequestHeader, req: Struct
) -> Struct:
    info = await describe(core)
    topics = []
    for t in req.topics:
        parts = []
        for p in t.partitions:
            if t.topic_name != METADATA_TOPIC or p.partition_index != 0:
                parts.append(Struct(partition_index=p.partition_index,
                                    error_code=int(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
                                    leader_id=-1, leader_epoch=-1, high_watermark=-1,
                                    current_voters=[], observers=[]))
                continue
            parts.append(Struct(
                partition_index=0, error_code=0, leader_id=info["leader_id"],
                leader_epoch=info["leader_epoch"], high_watermark=info["high_watermark"],
                current_voters=[_replica(r) for r in info["voters"]],
                observers=[_replica(r) for r in info["observers"]],
            ))
        topics.append(Struct(topic_name=t.topic_name, partitions=parts))
    return Struct(error_code=0, error_message=None, topics=topics, nodes=_nodes(core))


def _nodes(core: BrokerCore) -> list[Struct]:
    """The voters' endpoints (DescribeQuorum v2)."""
    voters = core.config.voters
    if not voters:
        adv = core.config.advertised
        return [Struct(node_id=core.node_id, listeners=[
            Struct(name="PLAINTEXT", host=adv.host, port=adv.port)])]
    return [Struct(node_id=node, listeners=[Struct(name="CONTROLLER", host=hp.host, port=hp.port)])
            for node, hp in sorted(voters.items())]


def describe_quorum_fallback(req: Struct, version: int, code: ErrorCode) -> Struct:
    return Struct(error_code=int(code), topics=[])


HANDLERS = {
    ApiKey.DESCRIBE_QUORUM: Handler(describe_quorum_handler, describe_quorum_fallback),
}
