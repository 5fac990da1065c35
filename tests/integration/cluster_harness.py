"""Run a local multi-node ``logd`` cluster for tests (real processes on 127.0.0.0/8).

:class:`LogdCluster` gives every node a client listener on a kernel-picked port (as
:class:`~logd_harness.Logd` does) and a quorum port picked up front (``--quorum`` must name
them before any node starts): each controller binds its own loopback address
(127.0.0.1, .2, .3, ...) so ports collide with nothing else on 127.0.0.1. Timeouts are short
(heartbeat 200 ms: a killed node is fenced within a second, by its closed connection). The
session timeout stays long enough (6 s) that a node stalled by a loaded machine is not fenced
and its leaderships moved in the middle of a test. Waits are bounded.

With ``hosts`` (see :mod:`netns_harness`) node *i* is a host of its own instead: it listens on
``hosts.address(i)`` (clients on :data:`CLIENT_PORT`, the quorum on :data:`QUORUM_PORT`, free
there because nothing else lives on that address) and runs under ``hosts.prefix(i)``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from logd_harness import ROOT, TEST_BROKER_ENV, Logd

T = TypeVar("T")
HEARTBEAT_MS = 200
SESSION_MS = 6000
CLIENT_PORT = 9092
QUORUM_PORT = 9093


class Hosts(Protocol):
    """Where node ``i`` lives: its own address, and the command prefix that puts it there."""

    def address(self, node_id: int) -> str: ...

    def prefix(self, node_id: int) -> list[str]: ...


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 10.0) -> T:
    """Poll ``probe`` until it returns something other than None/False (bounded)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except Exception as exc:  # a probe may fail while the cluster moves
            last = exc
        else:
            if last is not None and last is not False:
                return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class LogdCluster:
    """``controllers`` voters, which run both roles unless there are ``brokers`` extra
    broker-only nodes (ids after the controllers'); ``combined`` keeps both roles on the
    voters next to those brokers too."""

    def __init__(self, tmp: Path, controllers: int = 3, brokers: int = 0,
                 *extra: str, env: dict[str, str] | None = None,
                 hosts: Hosts | None = None, combined: bool = False) -> None:
        if hosts is None:
            self.voters = {i: (f"127.0.0.{i}", free_port(f"127.0.0.{i}"))
                           for i in range(1, controllers + 1)}
        else:
            self.voters = {i: (hosts.address(i), QUORUM_PORT) for i in range(1, controllers + 1)}
        self.quorum = ",".join(f"{i}@{h}:{p}" for i, (h, p) in self.voters.items())
        self.nodes: dict[int, Logd] = {}
        for i in range(1, controllers + brokers + 1):
            roles = "broker,controller" if i <= controllers and (combined or not brokers) else (
                "controller" if i <= controllers else "broker")
            host, port, prefix = ("127.0.0.1", 0, []) if hosts is None else (
                hosts.address(i), CLIENT_PORT, hosts.prefix(i))
            self.nodes[i] = Logd(
                tmp, "--node-id", str(i), "--quorum", self.quorum, "--roles", roles,
                "--broker-heartbeat-interval-ms", str(HEARTBEAT_MS),
                "--broker-session-timeout-ms", str(SESSION_MS), *extra, name=f"node{i}",
                env={**TEST_BROKER_ENV, **(env or {})}, host=host, port=port, prefix=prefix,
            )

    def start(self) -> LogdCluster:
        # Every node launched before any is waited for: their start-ups (imports, opening the
        # log dirs, the quorum's first election) overlap instead of adding up.
        try:
            for node in self.nodes.values():
                node.launch()
            for node in self.nodes.values():
                node.wait_started()
        except BaseException:
            for node in self.nodes.values():
                node.kill()
            raise
        return self

    def running(self) -> list[Logd]:
        return [n for n in self.nodes.values() if n.running]

    def bootstrap(self, node_id: int) -> str:
        return self.nodes[node_id].bootstrap

    def status(self, node_id: int) -> dict[str, Any]:
        """``log-quorum describe --status --json`` against one node."""
        out = subprocess.run(
            [sys.executable, "-m", "tidelog.tools.log_quorum", "-b", self.bootstrap(node_id),
             "describe", "--status", "--json", "--timeout", "3"],
            capture_output=True, cwd=ROOT, timeout=30, check=False,
        )
        doc: dict[str, Any] = json.loads(out.stdout)
        doc["exit"] = out.returncode
        return doc

    def leader(self, via: int, timeout: float = 10.0, not_: int | None = None) -> int:
        """The leader id as node ``via`` reports it, once there is one (other than ``not_``)."""
        def probe() -> int | None:
            doc = self.status(via)
            lid = int(doc["leader_id"])
            return lid if lid >= 0 and lid != not_ and doc["exit"] == 0 else None
        return wait_for("a quorum leader", probe, timeout)

    def close(self) -> None:
        """Stop every node (the others too when one does not stop), then raise the first
        failure."""
        failures: list[BaseException] = []
        for node in self.nodes.values():
            try:
                if node.running:
                    node.stop()
            except Exception as exc:
                failures.append(exc)
            finally:
                node.kill()
        if failures:
            raise failures[0]

    def logs(self) -> str:
        return "\n".join(f"--- node {i}\n{n.log()}" for i, n in self.nodes.items())


def create_topic(servers: str, topic: str, partitions: int, replication: int = 3,
                 config: dict[str, str] | None = None) -> None:
    """Create ``topic`` with confluent-kafka's admin client, retrying what a cluster whose
    membership just moved may answer (a dropped broker handle, a retriable error), as an
    admin tool would; an earlier attempt that made it counts."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    def attempt() -> bool | None:
        admin = AdminClient({"bootstrap.servers": servers})
        try:
            admin.create_topics([NewTopic(topic, partitions, replication, config=config or {})]
                                )[topic].result(30)
        except KafkaException as exc:
            err = exc.args[0]
            if err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                return True
            if err.retriable() or err.code() < 0:
                return None
            raise
        return True
    wait_for(f"topic {topic} created", attempt, 60)
