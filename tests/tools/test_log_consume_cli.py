"""log-consume as a program against a real logd: the -o beginning -e contract, start
positions, -c, -p, --pattern, kcat -f tokens, JSON lines, -K and -D, a closed stdout, Ctrl-C
while following, a missing topic, and a pipeline through tr into another topic."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import orjson
import pytest
from client_tools_env import TIMEOUT, broker, env_for, run, tool
from logd_harness import Logd

__all__ = ["broker"]


@pytest.fixture(scope="module")
def filled(broker: Logd) -> Logd:
    run(broker, "log-topics", "create", "words", "--partitions", "2")
    run(broker, "log-produce", "-t", "words", "-p", "0", stdin=b"alpha\nbeta\ngamma\n")
    run(broker, "log-produce", "-t", "words", "-p", "1", "-K", "=", "-H", "h=1",
        stdin=b"k=delta\n")
    run(broker, "log-produce", "-t", "other", stdin=b"\xff\xfe\n")
    return broker


def test_beginning_to_end_contract(filled: Logd) -> None:
    out = run(filled, "log-consume", "-b", filled.bootstrap, "-t", "words", "-o", "beginning",
              "-e").stdout
    lines = out.splitlines()
    assert sorted(lines) == [b"alpha", b"beta", b"delta", b"gamma"]
    assert [x for x in lines if x != b"delta"] == [b"alpha", b"beta", b"gamma"]


@pytest.mark.parametrize(("args", "expected"), [
    (["-p", "0", "-o", "1"], b"beta\ngamma\n"),
    (["-p", "0", "-o", "-1"], b"gamma\n"),
    (["-p", "0", "-o", "+2"], b"gamma\n"),
    (["-p", "0", "-o", "end"], b""),
    (["-p", "0", "-c", "2"], b"alpha\nbeta\n"),
    (["-p", "0", "-o", "@0"], b"alpha\nbeta\ngamma\n"),
    (["-p", "0", "-D", "|"], b"alpha|beta|gamma|"),
    (["-p", "1", "-K", "\\t"], b"k\tdelta\n"),
    (["-p", "1", "-f", "%t/%p/%o %k=%s (%K,%S) [%h]\\n"], b"words/1/0 k=delta (1,5) [h=1]\n"),
])
def test_positions_counts_and_formats(filled: Logd, args: list[str], expected: bytes) -> None:
    assert run(filled, "log-consume", "-t", "words", "-e", *args).stdout == expected


def test_json_lines_and_base64(filled: Logd) -> None:
    out = run(filled, "log-consume", "-t", "words", "-p", "1", "-e", "--json").stdout
    doc = orjson.loads(out)
    assert doc["topic"] == "words" and doc["partition"] == 1 and doc["offset"] == 0
    assert (doc["key"], doc["value"], doc["headers"]) == ("k", "delta", {"h": "1"})
    assert isinstance(doc["timestamp"], int)
    raw = orjson.loads(run(filled, "log-consume", "-t", "other", "-e", "--json").stdout)
    assert raw["value"] == "//4=" and raw["value_encoding"] == "base64"
    forced = orjson.loads(run(filled, "log-consume", "-t", "words", "-p", "1", "-e", "--json",
                              "--base64").stdout)
    assert forced["value"] == "ZGVsdGE=" and forced["key_encoding"] == "base64"


def test_pattern_and_missing_topics(filled: Logd) -> None:
    out = run(filled, "log-consume", "--pattern", "wor.s|oth.*", "-e", "-c", "10").stdout
    assert len(out.splitlines()) == 5
    assert b"does not exist" in run(filled, "log-consume", "-t", "nope", "-e", check=5).stderr
    run(filled, "log-consume", "--pattern", "zzz.*", "-e", check=5)
    run(filled, "log-consume", "-t", "words", "-p", "5", "-e", check=5)
    run(filled, "log-consume", "-t", "words", "-o", "soon", "-e", check=2)
    run(filled, "log-consume", "-t", "words", "-f", "%z", "-e", check=2)
    run(filled, "log-consume", "-e", check=2)


def test_closed_stdout_ends_quietly(broker: Logd) -> None:
    run(broker, "log-produce", "-t", "many", stdin=b"".join(b"%d\n" % i for i in range(50000)))
    env = env_for(broker)
    consume = subprocess.Popen([tool("log-consume"), "-t", "many"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
    head = subprocess.run(["head", "-n", "3"], stdin=consume.stdout, capture_output=True,
                          timeout=TIMEOUT, check=True)
    assert consume.stdout is not None
    consume.stdout.close()
    assert head.stdout == b"0\n1\n2\n"
    # Like tail -f, a follower learns that its reader left at its next write.
    run(broker, "log-produce", "-t", "many", stdin=b"more\n")
    _, err = consume.communicate(timeout=TIMEOUT)
    assert consume.returncode == 0 and err == b""


def test_follows_new_records_until_ctrl_c(broker: Logd) -> None:
    run(broker, "log-topics", "create", "live", "--partitions", "1")
    follower = subprocess.Popen([tool("log-consume"), "-v", "-t", "live", "-o", "end"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env_for(broker))
    assert follower.stdout is not None and follower.stderr is not None
    # -v says when the partitions are assigned: from then on "end" is fixed.
    assert b"consuming 1 partitions" in follower.stderr.readline()
    run(broker, "log-produce", "-t", "live", stdin=b"first\nsecond\n")
    assert follower.stdout.readline() == b"first\n"  # flushed as the batch arrives
    assert follower.stdout.readline() == b"second\n"
    follower.send_signal(signal.SIGINT)
    _, err = follower.communicate(timeout=TIMEOUT)
    assert follower.returncode == 130, err.decode()


def test_pipeline_through_tr(filled: Logd) -> None:
    env = env_for(filled)
    script = (f"{tool('log-consume')} -t words -p 0 -o beginning -e | tr a-z A-Z | "
              f"{tool('log-produce')} -t shouted -q")
    subprocess.run(["sh", "-c", script], env=env, check=True, timeout=TIMEOUT)
    assert run(filled, "log-consume", "-t", "shouted", "-e").stdout == b"ALPHA\nBETA\nGAMMA\n"


def test_topic_pipe_script(filled: Logd) -> None:
    script = Path(__file__).resolve().parents[2] / "scripts" / "topic-pipe"
    env = env_for(filled)
    env["PATH"] = f"{Path(tool('log-produce')).parent}{os.pathsep}{env['PATH']}"
    subprocess.run([str(script), "words", "piped", "tr", "a-z", "A-Z"], env=env, check=True,
                   timeout=TIMEOUT, capture_output=True)
    out = run(filled, "log-consume", "-t", "piped", "-e").stdout
    assert sorted(out.splitlines()) == [b"ALPHA", b"BETA", b"DELTA", b"GAMMA"]
    missing = subprocess.run([str(script), "nope", "x", "cat"], env=env, timeout=TIMEOUT,
                             capture_output=True, check=False)
    assert missing.returncode == 1 and b"does not exist" in missing.stderr


def test_tombstones_stand_apart_from_empty_values(broker: Logd) -> None:
    # log-produce -Z (kcat's flag): an empty value becomes null; without it, it stays empty.
    run(broker, "log-produce", "-t", "tombs", "-K", ":", "-Z", stdin=b"a:1\nb:\n")
    run(broker, "log-produce", "-t", "tombs", "-K", ":", stdin=b"c:\n")
    fmt = ["-f", "%k=%s (%S)\\n"]
    plain = run(broker, "log-consume", "-t", "tombs", "-e", *fmt).stdout
    assert plain == b"a=1 (1)\nb= (-1)\nc= (0)\n"
    marked = run(broker, "log-consume", "-t", "tombs", "-e", "-Z", *fmt).stdout
    assert marked == b"a=1 (1)\nb=NULL (-1)\nc= (0)\n"
    keyed = run(broker, "log-consume", "-t", "tombs", "-e", "-Z", "-K", "=").stdout
    assert keyed == b"a=1\nb=NULL\nc=\n"
    assert run(broker, "log-consume", "-t", "tombs", "-e", "-Z").stdout == b"1\nNULL\n\n"
    docs = [orjson.loads(line) for line in
            run(broker, "log-consume", "-t", "tombs", "-e", "--json").stdout.splitlines()]
    assert [d["value"] for d in docs] == ["1", None, ""]
    assert run(broker, "log-produce", "-t", "tombs", "-Z", "--null-value", "x",
               check=2).returncode == 2


def test_follower_does_not_recreate_a_deleted_topic(broker: Logd) -> None:
    """log-consume -t T following T, then T is deleted: the follower must not bring T back
    (its metadata refreshes ask for no auto-creation); kafka-python's admin client sees it
    gone once the follower has stopped."""
    from kafka import KafkaAdminClient

    run(broker, "log-topics", "create", "doomed", "--partitions", "1")
    run(broker, "log-produce", "-t", "doomed", stdin=b"one\n")
    follower = subprocess.Popen([tool("log-consume"), "-t", "doomed"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env_for(broker))
    assert follower.stdout is not None
    try:
        assert follower.stdout.readline() == b"one\n"
        run(broker, "log-topics", "delete", "doomed")
        _, err = follower.communicate(timeout=TIMEOUT)
    finally:
        follower.kill()
    assert follower.returncode == 5, err.decode()
    assert b"no longer exists" in err and b"doomed" in err, err.decode()
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        assert "doomed" not in admin.list_topics()
    finally:
        admin.close()


def test_a_corrupt_batch_ends_after_the_records_before_it(broker: Logd) -> None:
    """A batch whose CRC fails (a byte flipped in the segment file, which logd serves as is):
    log-consume prints every record of the batches before it, then fails naming the batch's
    offset. It used to print none of the records fetched with it and give a byte position."""
    run(broker, "log-topics", "create", "crc", "--partitions", "1")
    for start in (0, 300, 600):  # three runs: three batches
        run(broker, "log-produce", "-t", "crc",
            stdin=b"".join(b"r%d\n" % i for i in range(start, start + 300)))
    segment = broker.data_dir / "crc-0" / "00000000000000000000.log"
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF  # inside the last batch's records: its CRC no longer matches
    segment.write_bytes(bytes(data))
    res = run(broker, "log-consume", "-t", "crc", "-e", check=3)
    assert res.stdout.splitlines() == [b"r%d" % i for i in range(600)]
    assert b"offset 600" in res.stderr and b"corrupt" in res.stderr, res.stderr.decode()


def test_sigterm_stops_promptly_and_keeps_whole_records(broker: Logd) -> None:
    """SIGTERM to log-consume -e (no -g) while a reader is still taking its output: it stops
    well before the end of the topic, exits 130, and what it wrote is a gap-free run of whole
    records (nothing already written is lost or cut). Records come from kcat -P."""
    lines = b"".join(b"%d\n" % i for i in range(4_000_000))  # ~31 MB: fetch rounds of 8 MB
    subprocess.run(["kcat", "-b", broker.bootstrap, "-P", "-t", "term"], input=lines,
                   check=True, timeout=TIMEOUT, capture_output=True)
    consumer = subprocess.Popen([tool("log-consume"), "-t", "term", "-e"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env_for(broker))
    assert consumer.stdout is not None
    try:
        head = os.read(consumer.stdout.fileno(), 65536)
        consumer.send_signal(signal.SIGTERM)
        rest, err = consumer.communicate(timeout=TIMEOUT)
    finally:
        consumer.kill()
    assert consumer.returncode == 130, err.decode()
    out = head + rest
    assert out.endswith(b"\n") and len(out) < len(lines) // 2
    assert out.splitlines() == [b"%d" % i for i in range(out.count(b"\n"))]


def test_isolation_read_committed_skips_aborted_and_open_transactions(broker: Logd) -> None:
    import confluent_kafka as ck

    run(broker, "log-topics", "create", "txwords")
    producer = ck.Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "txw"})
    producer.init_transactions(TIMEOUT)
    for values, commit in (([b"c1", b"c2"], True), ([b"a1"], False), ([b"c3"], True),
                           ([b"o1"], None)):
        producer.begin_transaction()
        for v in values:
            producer.produce("txwords", v)
        producer.flush(TIMEOUT)
        if commit:
            producer.commit_transaction(TIMEOUT)
        elif commit is False:
            producer.abort_transaction(TIMEOUT)
    try:  # "o1" is in an open transaction: read_committed ends before it
        committed = b"c1\nc2\nc3\n"
        assert run(broker, "log-consume", "-t", "txwords", "-e", "--isolation",
                   "read_committed").stdout == committed
        assert run(broker, "log-consume", "-t", "txwords", "-e", "--isolation-level",
                   "read_committed").stdout == committed
        assert run(broker, "log-consume", "-t", "txwords", "-e", "-X",
                   "isolation.level=read_committed").stdout == committed
        assert run(broker, "log-consume", "-t", "txwords", "-e").stdout == \
            b"c1\nc2\na1\nc3\no1\n"
    finally:
        producer.abort_transaction(TIMEOUT)
    assert run(broker, "log-consume", "-t", "txwords", "-e", "--isolation",
               "read_committed").stdout == committed
