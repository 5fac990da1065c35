"""scripts/rolling-restart restarts each broker of a scripts/cluster cluster in turn with a
controlled shutdown and waits for a full ISR before the next: an idempotent acks=all producer
(librdkafka's defaults plus idempotence) running throughout sees no error it does not retry,
and every acknowledged record is there once, in order."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from client_tools_env import tool  # noqa: F401  (puts tests/integration on sys.path)
from confluent_kafka import Consumer, TopicPartition
from steady_producer import SteadyProducer
from test_cluster_script import _free_base

ROOT = Path(__file__).resolve().parents[2]


def test_rolling_restart_under_an_idempotent_producer(tmp_path: Path) -> None:
    base = _free_base()
    env = dict(os.environ, TIDELOG_CLUSTER_PORT=str(base))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.pop("TIDELOG_BOOTSTRAP", None)
    d = str(tmp_path / "c")
    bootstrap = ",".join(f"127.0.0.1:{base + i}" for i in range(3))

    def script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(ROOT / "scripts" / name), "--dir", d, *args],
                              capture_output=True, text=True, env=env, timeout=300,
                              check=False)

    started = script("cluster", "start")
    assert started.returncode == 0, started.stderr
    try:
        subprocess.run(["log-topics", "-b", bootstrap, "create", "rolled", "--timeout", "60"],
                       env=env, check=True, capture_output=True, timeout=90)
        with SteadyProducer(bootstrap, "rolled", pause=0.01) as producer:
            acked = producer.acked
            deadline = time.monotonic() + 60
            while len(acked) < 50 and time.monotonic() < deadline:
                time.sleep(0.05)
            rolled = script("rolling-restart", "--timeout", "90")
            assert rolled.returncode == 0, rolled.stderr
            assert rolled.stderr.count("every partition in full ISR") == 3, rolled.stderr
            count = len(acked)
            deadline = time.monotonic() + 60
            while len(acked) < count + 50 and time.monotonic() < deadline:
                time.sleep(0.05)
        errors = producer.errors
        assert not errors, errors[:3]
        assert sorted(acked) == list(range(len(acked))) and len(acked) > 100
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": "rolled-check",
                      "enable.auto.commit": False})
        c.assign([TopicPartition("rolled", 0, 0)])
        got: list[int] = []
        deadline = time.monotonic() + 60
        while len(got) < len(acked) and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is not None and not msg.error():
                got.append(int(msg.value()))
        c.close()
        assert got[:len(acked)] == list(range(len(acked))), "each acknowledged record once"
    finally:
        if script("cluster", "stop").returncode != 0:
            # a node slow to stop on a loaded machine: no process outlives the test
            for pid in (tmp_path / "c").glob("node*.pid"):
                with contextlib.suppress(OSError, ValueError):
                    os.kill(int(pid.read_text()), signal.SIGKILL)
