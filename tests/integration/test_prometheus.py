"""A real Prometheus server (Debian's ``prometheus``, which .ci/run installs) scrapes a broker's
metrics listener: the target is up with no scrape error (Prometheus's own parser accepted the
exposition, stricter than a client library's), and its query API answers the counters kcat's
traffic moved and the request-time quantiles, as a dashboard would ask for them.

One broker and one Prometheus for the module; Prometheus listens on 127.0.0.1 only, keeps its
data in the test's temporary dir, scrapes every second and is stopped (SIGTERM, then kill) at
the end. Every wait is bounded.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster_harness import free_port, wait_for
from logd_harness import Logd
from metrics_scrape import metrics_port

#: Prometheus applies a new target after its discovery's update period (5 s) and scrapes it
#: within the interval after that: a minute is ample on a loaded machine.
WAIT_S = 60.0


class Prometheus:
    def __init__(self, tmp: Path, target: str) -> None:
        exe = shutil.which("prometheus")
        assert exe, "prometheus is not installed (.ci/run installs it with apt-get)"
        config = tmp / "prometheus.yml"
        # JSON is YAML: no YAML writer needed
        config.write_text(json.dumps({
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
            "scrape_configs": [{"job_name": "logd",
                                "static_configs": [{"targets": [target]}]}],
        }))
        self.address = f"127.0.0.1:{free_port('127.0.0.1')}"
        self.log_path = tmp / "prometheus.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [exe, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
                 f"--web.listen-address={self.address}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def api(self, path: str, **params: str) -> Any:
        url = f"http://{self.address}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as answer:
            doc = json.loads(answer.read())
        assert doc["status"] == "success", doc
        return doc["data"]

    def query(self, expr: str) -> dict[frozenset[tuple[str, str]], float]:
        """An instant query's vector: labels (without __name__) -> value."""
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", data
        return {frozenset((k, v) for k, v in r["metric"].items() if k != "__name__"):
                float(r["value"][1]) for r in data["result"]}

    def log(self) -> str:
        return self.log_path.read_text("utf-8", "replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logd]:
    b = Logd(tmp_path_factory.mktemp("prom-logd"), "--metrics-listen", "127.0.0.1:0").start()
    yield b
    try:
        if b.running:
            assert b.stop() == 0, b.log()
    finally:
        b.kill()
        print(b.log())


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, broker: Logd) -> Iterator[Prometheus]:
    p = Prometheus(tmp_path_factory.mktemp("prometheus"), f"127.0.0.1:{metrics_port(broker)}")
    try:
        yield p
    finally:
        p.stop()
        print(p.log())  # captured: shown when a test failed


def kcat(*args: str, stdin: bytes = b"") -> bytes:
    return subprocess.run(["kcat", *args], input=stdin, capture_output=True, timeout=60,
                          check=True).stdout


def _target(p: Prometheus) -> dict[str, Any] | None:
    """The logd target once it has been scraped (health no longer "unknown")."""
    targets = p.api("targets")["activeTargets"]
    scraped = [t for t in targets if t["labels"]["job"] == "logd" and t["health"] != "unknown"]
    return scraped[0] if scraped else None


def test_prometheus_scrapes_the_broker_without_errors(prometheus: Prometheus,
                                                     broker: Logd) -> None:
    target = wait_for("Prometheus's first scrape of logd", lambda: _target(prometheus), WAIT_S)
    assert target["health"] == "up" and target["lastError"] == "", target
    assert target["scrapeUrl"] == f"http://127.0.0.1:{metrics_port(broker)}/metrics"
    up = prometheus.query('up{job="logd"}')
    assert list(up.values()) == [1.0], up


def test_queries_answer_what_the_traffic_moved(prometheus: Prometheus, broker: Logd) -> None:
    topic = "prom-traffic"
    kcat("-P", "-b", broker.bootstrap, "-t", topic,
         stdin=b"".join(b"record-%d\n" % i for i in range(250)))
    assert kcat("-C", "-b", broker.bootstrap, "-t", topic, "-e", "-q").count(b"\n") == 250
    messages_in = f'kafka_server_brokertopicmetrics_messagesin_total{{topic="{topic}"}}'

    def settled() -> dict[frozenset[tuple[str, str]], float] | None:
        # scrapes taken before the produce answer less (or nothing): wait for one after it
        found = prometheus.query(messages_in)
        return found if list(found.values()) == [250.0] else None

    (labels,) = wait_for(f"{messages_in} == 250 in Prometheus", settled, WAIT_S)
    assert dict(labels)["job"] == "logd" and dict(labels)["topic"] == topic
    bytes_out = f'kafka_server_brokertopicmetrics_bytesout_total{{topic="{topic}"}}'
    wait_for(f"{bytes_out} > 250 records' bytes",
             lambda: sum(prometheus.query(bytes_out).values()) > 250 * len(b"record-0"), WAIT_S)
    # A summary as Prometheus stores it: one series per quantile, and _count beside them.
    produce_p99 = 'kafka_network_requestmetrics_totaltimems{request="Produce",quantile="0.99"}'
    wait_for("the Produce request time's 0.99 quantile",
             lambda: prometheus.query(produce_p99) or None, WAIT_S)
    count = 'kafka_network_requestmetrics_totaltimems_count{request="Produce"}'
    wait_for("Produce requests counted", lambda: sum(prometheus.query(count).values()) >= 1,
             WAIT_S)
