"""A local ``logd`` cluster for the replication benchmarks (not a test harness: no pytest).

:class:`BenchCluster` starts real ``logd`` processes on 127.0.0.0/8 in a temporary directory:
``combined`` gives three broker+controller nodes (ids 1-3), ``split`` three controllers
(ids 1-3) and three brokers (ids 4-6), as ``scripts/cluster`` does. Every node's client
listener is a kernel-picked port of 127.0.0.1 (kept across restarts); each controller's quorum
port is picked up front on its own loopback address (127.0.0.N), since ``--quorum`` must name
it before any node starts. The nodes run with their *default* settings unless the caller
passes flags or environment: the benchmarks measure the defaults.

stderr of every node goes to ``node<N>.log`` (millisecond timestamps); :meth:`Node.lines`
finds timestamped lines in it, so a benchmark can place events of the nodes on one clock
(all processes share this machine's wall clock).

Every wait is bounded and raises RuntimeError when it runs out; :meth:`BenchCluster.close`
stops every node (SIGTERM, then SIGKILL after 20 s).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "lib")]
LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (.*)$", re.M)

T = TypeVar("T")


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 30.0,
             every: float = 0.02) -> T:
    """Poll ``probe`` until it gives something other than None/False (bounded)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except Exception as exc:  # the cluster may be moving
            last = exc
        else:
            if last is not None and last is not False:
                return last
        time.sleep(every)
    raise RuntimeError(f"timed out waiting for {what} (last: {last!r})")


def stamp(text: str) -> float:
    """Unix time of a ``logd`` log line's timestamp (local time, millisecond resolution)."""
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()


class Node:
    def __init__(self, base: Path, node_id: int, roles: str, quorum: str, extra: list[str],
                 env: dict[str, str]) -> None:
        self.id = node_id
        self.roles = roles
        self.log = base / f"node{node_id}.log"
        self.data = base / f"node{node_id}"
        self.args = [sys.executable, "-m", "tidelog.tools.logd", "--node-id", str(node_id),
                     "--quorum", quorum, "--roles", roles, "--data-dir", str(self.data),
                     "--log-level", "info", *extra]
        self.env = env
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, wrap: list[str] | None = None) -> None:
        """Start the node (``wrap``: a command prefix, e.g. a profiler) and wait until it
        listens for clients."""
        offset = self.log.stat().st_size if self.log.exists() else 0
        env = dict(os.environ)
        env.pop("TIDELOG_CONFIG", None)
        env.update(self.env)
        cmd = [*(wrap or []), *self.args, "--listen", f"127.0.0.1:{self.port}"]
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT,
                                         env=env)

        def listening() -> int | None:
            if self.proc is not None and self.proc.poll() is not None:
                raise SystemExit(f"node {self.id} exited:\n{self.log.read_text()[-3000:]}")
            m = LISTENING.search(self.log.read_bytes()[offset:].decode("utf-8", "replace"))
            return int(m.group(1)) if m else None

        self.port = wait_for(f"node {self.id} to listen", listening, 30)

    def kill(self) -> float:
        """kill -9; returns the wall-clock time of the kill."""
        assert self.proc is not None
        when = time.time()
        self.proc.kill()
        self.proc.wait(10)
        return when

    def stop(self) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def lines(self, pattern: re.Pattern[str], since: float = 0.0
              ) -> Iterator[tuple[float, re.Match[str]]]:
        """(unix time, match of ``pattern`` on the message) of every line logged at or after
        ``since`` (lines are ``<date> <time,ms> <message>``)."""
        text = self.log.read_text("utf-8", "replace") if self.log.exists() else ""
        for m in STAMP.finditer(text):
            when = stamp(m.group(1))
            if when + 0.001 < since:
                continue
            found = pattern.search(m.group(2))
            if found:
                yield when, found


class BenchCluster:
    """Three combined nodes, or (``split``) three controllers and three brokers."""

    def __init__(self, base: Path, *, split: bool = False, extra: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.base = base
        self.split = split
        voters = {i: f"127.0.0.{i}" for i in (1, 2, 3)}
        quorum = ",".join(f"{i}@{h}:{free_port(h)}" for i, h in voters.items())
        ids = range(1, 7) if split else range(1, 4)
        self.nodes = {}
        for i in ids:
            roles = "broker,controller" if not split else ("controller" if i <= 3 else "broker")
            self.nodes[i] = Node(base, i, roles, quorum, list(extra or []), dict(env or {}))

    @property
    def brokers(self) -> list[Node]:
        return [n for n in self.nodes.values() if "broker" in n.roles]

    @property
    def controllers(self) -> list[Node]:
        return [n for n in self.nodes.values() if "controller" in n.roles]

    def bootstrap(self) -> str:
        return ",".join(n.bootstrap for n in self.brokers if n.running)

    def start(self, wrap: Callable[[Node], list[str] | None] | None = None) -> BenchCluster:
        """Start every node (``wrap(node)``: a command prefix for it) and wait until every
        broker is registered."""
        for n in self.nodes.values():
            n.start(wrap(n) if wrap is not None else None)
        want = {n.id for n in self.brokers}
        wait_for("every broker registered", lambda: self.live_brokers() == want, 60, 0.1)
        return self

    def metadata(self, topics: list[str] | None = None) -> Any:
        """A Metadata answer from any running broker (through tidelog.client: librdkafka's
        all-topics Metadata request carries trailing bytes that logd refuses today)."""
        from tidelog.client import Cluster
        from tidelog.client.retry import RetryPolicy

        async def ask() -> Any:
            hosts = [("127.0.0.1", n.port) for n in self.brokers if n.running]
            async with Cluster(hosts, retry=RetryPolicy(attempts=3)) as c:
                return await c.refresh(topics, auto_create=False)

        return asyncio.run(asyncio.wait_for(ask(), 10))

    def live_brokers(self) -> set[int]:
        return {int(b.node_id) for b in self.metadata().brokers}

    def create_topic(self, name: str, replicas: int, partitions: int = 1,
                     config: dict[str, str] | None = None) -> None:
        """Create ``name`` and wait until every partition has a leader and a full ISR."""
        from confluent_kafka import KafkaError, KafkaException
        from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

        admin = AdminClient({"bootstrap.servers": self.bootstrap()})

        def created() -> bool:
            future = admin.create_topics(
                [NewTopic(name, partitions, replicas, config=config or {})])[name]
            try:
                future.result(30)
            except KafkaException as exc:
                err = exc.args[0]
                if err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    return True  # an earlier attempt went through
                if not err.retriable():
                    raise
                return False  # e.g. NOT_CONTROLLER while the quorum elects: try again
            return True

        wait_for(f"{name} created", created, 60, 0.2)

        def ready() -> bool:
            parts = [self.partition(name, p) for p in range(partitions)]
            return all(leader >= 0 and len(isr) == replicas for leader, _, isr in parts)

        wait_for(f"{name}: leaders and full ISRs", ready, 60, 0.1)

    def partition(self, topic: str, p: int = 0) -> tuple[int, list[int], list[int]]:
        """(leader, replicas, isr) of a partition, as Metadata answers it."""
        for t in self.metadata([topic]).topics:
            for part in t.partitions:
                if t.name == topic and part.partition_index == p:
                    return (int(part.leader_id), sorted(part.replica_nodes),
                            sorted(part.isr_nodes))
        raise RuntimeError(f"{topic}: no partition {p}")

    def close(self) -> None:
        for n in self.nodes.values():
            n.stop()
