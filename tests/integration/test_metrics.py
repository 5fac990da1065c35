"""The metrics listener of one broker: a scrape parsed by prometheus_client moves with the
traffic kcat produces and fetches, consumer group lag matches ``log-groups describe``,
requests are counted per API, ``/healthz`` and ``/readyz`` answer, bad HTTP requests cost only
their connection, systemd is told READY=1 over NOTIFY_SOCKET, and log-top shows the broker,
its topics and group lag (--once --json, and the live view in a pseudo-terminal)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_harness import wait_for
from logd_harness import ROOT, Logd
from metrics_scrape import get, metrics_port, scrape, value

BTM = "kafka_server_brokertopicmetrics_"


@pytest.fixture(scope="module")
def notify_socket() -> Iterator[socket.socket]:
    # a short path: AF_UNIX paths are limited to 108 bytes
    where = tempfile.mkdtemp(prefix="tl-notify-", dir="/tmp")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(os.path.join(where, "s"))
    sock.settimeout(20)
    yield sock
    sock.close()
    shutil.rmtree(where)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory,
           notify_socket: socket.socket) -> Iterator[Logd]:
    b = Logd(tmp_path_factory.mktemp("metrics"), "--metrics-listen", "127.0.0.1:0",
             env={"NOTIFY_SOCKET": notify_socket.getsockname()}).start()
    yield b
    try:
        if b.running:
            assert b.stop() == 0, b.log()
    finally:
        b.kill()
        print(b.log())


def kcat(*args: str, stdin: bytes = b"") -> bytes:
    done = subprocess.run(["kcat", *args], input=stdin, capture_output=True, timeout=60,
                          check=True)
    return done.stdout


def test_systemd_is_notified_when_ready(broker: Logd, notify_socket: socket.socket) -> None:
    message = notify_socket.recv(4096).decode()
    assert "READY=1" in message.split("\n"), message
    assert get(metrics_port(broker), "/readyz") == (200, "ready\n")
    assert get(metrics_port(broker), "/healthz") == (200, "ok\n")


def test_counters_follow_produced_and_fetched_records(broker: Logd) -> None:
    port = metrics_port(broker)
    lines = b"".join(b"record-%d\n" % i for i in range(500))
    kcat("-P", "-b", broker.bootstrap, "-t", "m-traffic", stdin=lines)
    before = scrape(port)
    kcat("-P", "-b", broker.bootstrap, "-t", "m-traffic", stdin=lines)
    after = scrape(port)
    assert value(after, BTM + "messagesin_total", topic="m-traffic") == 1000
    assert value(after, BTM + "messagesin_total") == value(before, BTM + "messagesin_total")\
        + 500  # type: ignore[operator]
    bytes_in = value(after, BTM + "bytesin_total", topic="m-traffic")
    assert bytes_in is not None and bytes_in > 1000 * len(b"record-0")
    out = kcat("-C", "-b", broker.bootstrap, "-t", "m-traffic", "-e", "-q")
    assert out.count(b"\n") == 1000
    fetched = scrape(port)
    # every batch produced was fetched once: the bytes out are the bytes in
    assert value(fetched, BTM + "bytesout_total", topic="m-traffic") == bytes_in
    assert value(fetched, "kafka_log_log_logendoffset", topic="m-traffic", partition=0) == 1000
    size = value(fetched, "kafka_log_log_size", topic="m-traffic", partition=0)
    assert size is not None and size >= bytes_in
    produce = sum(v for (name, labels), v in fetched.items()
                  if name == "kafka_network_requestmetrics_requests_total"
                  and ("request", "Produce") in labels)
    assert produce >= 2
    count = value(fetched, "kafka_network_requestmetrics_totaltimems_count", request="Fetch")
    assert count is not None and count >= 1
    p99 = value(fetched, "kafka_network_requestmetrics_totaltimems", request="Produce",
                quantile=0.99)
    assert p99 is not None and p99 > 0
    assert value(fetched, "kafka_log_logflushstats_logflushrateandtimems_count")
    assert value(fetched, "kafka_controller_kafkacontroller_activecontrollercount") == 1
    assert value(fetched, "kafka_server_replicamanager_underreplicatedpartitions") == 0
    assert value(fetched, "tidelog_ready") == 1


def test_group_lag_matches_log_groups(broker: Logd) -> None:
    kcat("-P", "-b", broker.bootstrap, "-t", "m-lag",
         stdin=b"".join(b"%d\n" % i for i in range(40)))

    def tool(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", *args, "-b", broker.bootstrap], capture_output=True,
            text=True, cwd=ROOT, timeout=60, check=True).stdout

    tool("tidelog.tools.log_groups", "reset-offsets", "m-lag-group", "-t", "m-lag",
         "--to-offset", "15", "--execute", "-q")
    rows = [json.loads(line) for line in
            tool("tidelog.tools.log_groups", "describe", "m-lag-group", "--json").splitlines()]
    assert [(r["topic"], r["partition"], r["lag"]) for r in rows] == [("m-lag", 0, 25)]
    samples = scrape(metrics_port(broker))
    labels = {"consumergroup": "m-lag-group", "topic": "m-lag", "partition": 0}
    assert value(samples, "kafka_consumergroup_lag", **labels) == rows[0]["lag"]
    assert value(samples, "kafka_consumergroup_current_offset", **labels) == 15
    assert value(samples, "kafka_consumergroup_lag_sum", consumergroup="m-lag-group") == 25


def test_bad_http_requests_lose_only_their_connection(broker: Logd) -> None:
    port = metrics_port(broker)
    assert get(port, "/nothing")[0] == 404
    for junk in (b"\x00\x01garbage\r\n\r\n", b"GET / SPDY/3\r\n\r\n", b"G" * 20000,
                 b"POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(junk)
            s.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        assert answer == b"" or answer.split(b" ")[1] in (b"400", b"405"), answer
    # a client that opens a connection and sends nothing does not stop the others
    with socket.create_connection(("127.0.0.1", port), timeout=10):
        assert get(port, "/healthz")[0] == 200
    wait_for("a scrape", lambda: scrape(port) or None)
    assert broker.running


def test_metrics_port_in_use_fails_fast(tmp_path: Path, broker: Logd) -> None:
    other = Logd(tmp_path, "--metrics-listen", f"127.0.0.1:{metrics_port(broker)}")
    with pytest.raises(RuntimeError, match="for metrics"):
        other.start()
    other.kill()


def log_top(broker: Logd, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tidelog.tools.log_top", "-b", broker.bootstrap,
         "-m", f"127.0.0.1:{metrics_port(broker)}", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=90, check=False)


def test_log_top_once_json(broker: Logd) -> None:
    kcat("-P", "-b", broker.bootstrap, "-t", "m-top", stdin=b"".join(b"%d\n" % i
                                                                      for i in range(30)))
    subprocess.run([sys.executable, "-m", "tidelog.tools.log_groups", "-b", broker.bootstrap,
                    "reset-offsets", "m-top-group", "-t", "m-top", "--to-offset", "10",
                    "--execute", "-q"], cwd=ROOT, timeout=60, check=True)
    done = log_top(broker, "--once", "--json", "--interval", "0.3", "-t", "m-top*")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [t["topic"] for t in doc["topics"]] == ["m-top"]
    top = doc["topics"][0]
    assert (top["partitions"], top["under_replicated"], top["offline"]) == (1, 0, 0)
    assert top["bytes_in_per_s"] is not None  # the leader's metrics are scraped
    assert (doc["under_replicated"], doc["offline"]) == (0, 0)
    (b,) = doc["brokers"]
    assert (b["node_id"], b["state"], b["ready"]) == (1, "up", True)
    assert b["metrics"] == f"127.0.0.1:{metrics_port(broker)}"
    groups = {g["group"]: g for g in doc["groups"]}
    assert groups["m-top-group"]["lag"] == 20
    assert doc["quorum"]["leader"] == 1 and doc["controller"] == 1


def test_log_top_live_view_in_a_terminal(broker: Logd) -> None:
    import pty
    import select
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: log-top on the terminal
        os.chdir(ROOT)
        os.environ.update(TERM="xterm", COLUMNS="150", LINES="50")
        os.execv(sys.executable, [sys.executable, "-m", "tidelog.tools.log_top", "-b",
                                  broker.bootstrap, "-m", f"127.0.0.1:{metrics_port(broker)}",
                                  "--interval", "0.5"])
    seen = b""

    def read_until(marker: bytes, timeout: float = 60) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen:
            left = deadline - time.monotonic()
            assert left > 0, seen[-2000:]
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                try:
                    seen += os.read(fd, 65536)
                except OSError:  # the child closed the terminal
                    break
    try:
        read_until(b"GROUPS")
        assert b"BROKERS" in seen and b"TOPICS" in seen
        os.write(fd, b"s")
        read_until(b"sort: bytes-in")
        os.write(fd, b"q")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)


def test_log_top_creates_nothing(broker: Logd) -> None:
    """A group's committed offsets on a deleted topic: log-top asks for their lag, and the
    topic stays deleted (auto-creation is on in this broker)."""
    def tool(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", *args, "-b", broker.bootstrap],
                              capture_output=True, text=True, cwd=ROOT, timeout=60,
                              check=True).stdout

    kcat("-P", "-b", broker.bootstrap, "-t", "m-gone", stdin=b"a\nb\n")
    tool("tidelog.tools.log_groups", "reset-offsets", "m-gone-group", "-t", "m-gone",
         "--to-offset", "1", "--execute", "-q")
    tool("tidelog.tools.log_topics", "delete", "m-gone", "-q")
    done = log_top(broker, "--once", "--json", "--interval", "0.2")
    assert done.returncode == 0, done.stderr
    listed = tool("tidelog.tools.log_topics", "list")
    assert "m-gone" not in listed.split(), listed
