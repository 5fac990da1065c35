"""ClusterNode.submit: a forwarded admin change survives a metadata election.

While the quorum changes leader, the node asked answers NOT_CONTROLLER (not the leader, not
ready yet, none known). Kafka's forwarding manager retries that until the request times out;
librdkafka's admin client would hand it to the application instead (an ElectLeaders failed so
on a loaded machine). Other errors are the answer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tidelog.broker.quorum import cluster as cluster_module
from tidelog.broker.quorum.cluster import ClusterNode
from tidelog.broker.quorum.transport import RpcError
from tidelog.metadata.errors import ControllerError


class Quorum:
    def __init__(self) -> None:
        self.applied: list[int] = []

    async def wait_applied(self, offset: int, timeout: float) -> None:
        self.applied.append(offset)


def node_answering(answers: list[Any]) -> tuple[ClusterNode, list[str]]:
    """A ClusterNode whose calls to the controller get ``answers`` in turn (only what submit
    uses is set up)."""
    node = ClusterNode.__new__(ClusterNode)
    node.quorum = Quorum()  # type: ignore[assignment]
    asked: list[str] = []

    async def call(op: str, args: dict[str, Any], timeout: float) -> dict[str, Any]:
        asked.append(args["op"])
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)
    node._call = call  # type: ignore[method-assign]
    return node, asked


def test_not_controller_is_asked_again_until_a_leader_takes_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster_module, "RETRY_S", 0.001)
    node, asked = node_answering([
        RpcError("node 3 is not the active controller"),
        RpcError("no active controller is known"),
        {"offset": 7, "result": "done"},
    ])
    assert asyncio.run(node.submit("elect_leaders", {})) == "done"
    assert asked == ["elect_leaders"] * 3
    assert node.quorum.applied == [7]  # type: ignore[attr-defined]


def test_other_errors_are_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster_module, "RETRY_S", 0.001)
    node, asked = node_answering([RpcError("unknown topic", "UNKNOWN_TOPIC_OR_PARTITION")])
    with pytest.raises(ControllerError):
        asyncio.run(node.submit("elect_leaders", {}))
    assert asked == ["elect_leaders"]


def test_not_controller_until_the_deadline_is_the_answer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster_module, "RETRY_S", 0.001)
    monkeypatch.setattr(cluster_module, "OP_TIMEOUT_S", 0.05)
    node, asked = node_answering([RpcError("no active controller is known")] * 10_000)
    with pytest.raises(ControllerError) as raised:
        asyncio.run(node.submit("elect_leaders", {}))
    assert "no active controller" in str(raised.value) and len(asked) >= 2
