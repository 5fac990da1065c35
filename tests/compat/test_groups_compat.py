"""Consumer groups with real Kafka clients against logd: a group of confluent-kafka,
kafka-python and aiokafka consumers shares a 6-partition topic, survives a member joining,
leaving and being killed, and a restart of logd, consuming every record (at-least-once, no
gaps); ``kcat -G`` balanced consumers split a topic. Each member is a child process
(tests/compat/group_member.py) that prints what it consumed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))

from logd_harness import Logd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WAIT_S = 40.0
ENV = {"TIDELOG_GROUP_INITIAL_REBALANCE_DELAY_MS": "300",
       "TIDELOG_GROUP_MIN_SESSION_TIMEOUT_MS": "1000"}


def wait_for(what: str, check: Callable[[], bool], timeout: float = WAIT_S,
             detail: Callable[[], object] = lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {detail()}")


class Member:
    def __init__(self, tmp: Path, kind: str, bootstrap: str, topic: str, group: str,
                 n: int, config: dict[str, object] | None = None) -> None:
        self.kind = kind
        self.out = tmp / f"{kind}-{n}.out"
        self.err = tmp / f"{kind}-{n}.err"
        env = dict(os.environ, GROUP_MEMBER_CONFIG=json.dumps(config or {}))
        with self.out.open("a") as out, self.err.open("a") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(HERE / "group_member.py"), kind, bootstrap, topic, group],
                stdout=out, stderr=err, cwd=ROOT, env=env)

    def values(self) -> set[int]:
        return {int(line.split()[3]) for line in self.out.read_text().splitlines()
                if line.startswith("R ") and len(line.split()) == 4}

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def log_groups(bootstrap: str, *args: str) -> list[dict[str, object]]:
    res = subprocess.run([sys.executable, "-m", "tidelog.tools.log_groups", "-b", bootstrap, *args,
                          "--json"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 0, res.stderr
    return [json.loads(line) for line in res.stdout.splitlines()]


def assignment(bootstrap: str, group: str) -> dict[str, list[int]] | None:
    """member -> partitions when the group is Stable, else None."""
    state = log_groups(bootstrap, "describe", group, "--state")[0]
    if state["state"] != "Stable":
        return None
    members = log_groups(bootstrap, "describe", group, "--members")
    result = {}
    for m in members:
        owned = m["assignment"]
        assert isinstance(owned, dict)
        result[str(m["consumer_id"])] = list(owned.get("gt", []))
    return result


def split_among(bootstrap: str, group: str, count: int) -> bool:
    try:
        got = assignment(bootstrap, group)
    except AssertionError:  # log-groups failed (the broker is restarting): ask again
        return False
    if got is None or len(got) != count:
        return False
    parts = [p for ps in got.values() for p in ps]
    # Every partition owned by exactly one member; every member owns some (6 >= 3).
    return sorted(parts) == list(range(6)) and all(got.values())


def produce(bootstrap: str, start: int, count: int) -> None:
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=bootstrap)
    for i in range(start, start + count):
        p.send("gt", str(i).encode(), partition=i % 6)
    p.flush()
    p.close()


@pytest.fixture
def group_logd(tmp_path: Path) -> Iterator[Logd]:
    broker = Logd(tmp_path, env=ENV).start()
    yield broker
    try:
        if broker.running:
            assert broker.stop() == 0, broker.log()
    finally:
        broker.kill()
        print(broker.log())


def test_mixed_group_rebalances_and_survives_a_restart(tmp_path: Path,
                                                        group_logd: Logd) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    b = group_logd.bootstrap
    admin = KafkaAdminClient(bootstrap_servers=b)
    admin.create_topics([NewTopic("gt", 6, 1)])
    admin.close()
    produce(b, 0, 300)
    members = [Member(tmp_path, k, b, "gt", "mix", 0)
               for k in ("confluent", "kafka-python", "aiokafka")]

    def seen() -> set[int]:
        return set().union(*(m.values() for m in members))

    def state() -> str:
        missing = sorted(set(range(1500)) - seen())
        return (f"members {log_groups(b, 'describe', 'mix', '--members')}, offsets "
                f"{log_groups(b, 'describe', 'mix')}, not seen {missing[:20]}...")

    def settle(what: str, check: Callable[[], bool]) -> None:
        wait_for(what, check, detail=state)

    try:
        settle("three members splitting 6 partitions", lambda: split_among(b, "mix", 3))
        settle("the first 300 records", lambda: seen() >= set(range(300)))
        # Killed: its session expires and the others take its partitions.
        members[1].stop(signal.SIGKILL)
        produce(b, 300, 300)
        settle("two members after the kill", lambda: split_among(b, "mix", 2))
        settle("records after the kill", lambda: seen() >= set(range(600)))
        # Joining: a new kafka-python member gets a share.
        members.append(Member(tmp_path, "kafka-python", b, "gt", "mix", 1))
        settle("three members after the join", lambda: split_among(b, "mix", 3))
        produce(b, 600, 300)
        settle("records after the join", lambda: seen() >= set(range(900)))
        # Leaving cleanly: the rest take over at once (no session timeout to wait for).
        members[2].stop()
        settle("two members after the leave", lambda: split_among(b, "mix", 2))
        produce(b, 900, 300)
        settle("records after the leave", lambda: seen() >= set(range(1200)))
        # A restart of logd: the group and its offsets come back; members carry on.
        group_logd.stop()
        group_logd.start()
        produce(b, 1200, 300)
        settle("records after the restart", lambda: seen() >= set(range(1500)))
        settle("a stable group after the restart", lambda: split_among(b, "mix", 2))

        def caught_up() -> bool:
            try:
                rows = log_groups(b, "describe", "mix")
            except AssertionError:
                return False
            return len(rows) == 6 and all(r["lag"] == 0 and r["current_offset"] == 250
                                          for r in rows)

        settle("committed offsets at the log end in log-groups describe", caught_up)
    finally:
        for m in members:
            m.stop()
    for m in members:
        assert "Traceback" not in m.err.read_text(), m.err.read_text()


def test_kcat_balanced_consumers(tmp_path: Path, group_logd: Logd) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    b = group_logd.bootstrap
    admin = KafkaAdminClient(bootstrap_servers=b)
    admin.create_topics([NewTopic("gt", 6, 1)])
    admin.close()
    produce(b, 0, 600)
    procs, outs = [], []
    for i in range(2):
        out = tmp_path / f"kcat-{i}.out"
        outs.append(out)
        with out.open("w") as f:
            procs.append(subprocess.Popen(
                ["kcat", "-b", b, "-G", "kc", "-X", "auto.offset.reset=earliest",
                 "-X", "session.timeout.ms=6000", "-q", "-u", "-f", "%p %o %s\n", "gt"],
                stdout=f, stderr=subprocess.DEVNULL, env=dict(os.environ)))
    try:
        wait_for("two kcat members splitting 6 partitions", lambda: split_among(b, "kc", 2))

        def values() -> list[set[int]]:
            return [{int(line.split()[2]) for line in o.read_text().splitlines()
                     if len(line.split()) == 3} for o in outs]

        wait_for("every record", lambda: set().union(*values()) >= set(range(600)))
        got = assignment(b, "kc")
        assert got is not None
        shares = [set(ps) for ps in got.values()]
        assert not shares[0] & shares[1]
        # Each kcat read only partitions it was assigned: together, disjoint halves.
        first, second = values()
        assert first and second
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
