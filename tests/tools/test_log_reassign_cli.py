"""log-reassign against a single-node logd: plans in kafka-reassign-partitions' format (ours
and Kafka's, through a pipe), verify and elect reports, Kafka's spellings, and the exit
statuses (moves between brokers are in tests/integration/test_reassign.py)."""

from __future__ import annotations

import orjson
from client_tools_env import broker, run
from logd_harness import Logd

__all__ = ["broker"]

#: What Kafka 3.x's --generate prints (its "Proposed partition reassignment configuration").
KAFKA_PLAN = (b'{"version":1,"partitions":[{"topic":"plan-me","partition":0,"replicas":[1],'
              b'"log_dirs":["any"]},{"topic":"plan-me","partition":1,"replicas":[1],'
              b'"log_dirs":["any"]}]}')


def test_plan_execute_verify_through_a_pipe(broker: Logd) -> None:
    run(broker, "log-topics", "create", "plan-me", "--partitions", "2")
    plan = run(broker, "log-reassign", "plan", "--topics", "plan-me").stdout
    assert orjson.loads(plan) == orjson.loads(KAFKA_PLAN)
    rollback = run(broker, "log-reassign", "execute", "-", stdin=plan).stdout
    assert orjson.loads(rollback) == orjson.loads(KAFKA_PLAN)  # nothing had to move
    # Kafka's own spelling, and its plan without log_dirs
    bare = orjson.dumps({"version": 1, "partitions": [
        {"topic": "plan-me", "partition": 1, "replicas": [1]}]})
    run(broker, "log-reassign", "--execute", "--reassignment-json-file", "/dev/stdin",
        stdin=bare)
    doc = orjson.loads(run(broker, "log-reassign", "verify", "-", "--json",
                           stdin=KAFKA_PLAN).stdout)
    assert doc["done"] is True
    assert [(p["partition"], p["state"], p["replicas"]) for p in doc["partitions"]] == [
        (0, "done", [1]), (1, "done", [1])]
    lines = run(broker, "log-reassign", "verify").stdout.decode().splitlines()
    assert lines == ["TOPIC\tPARTITION\tREPLICAS\tTARGET\tADDING\tREMOVING\tSTATE"]


def test_refusals_and_exit_statuses(broker: Logd) -> None:
    run(broker, "log-topics", "create", "refuse-me")
    other_broker = orjson.dumps({"version": 1, "partitions": [
        {"topic": "refuse-me", "partition": 0, "replicas": [7]}]})
    err = run(broker, "log-reassign", "execute", "-", stdin=other_broker, check=1).stderr
    assert b"INVALID_REPLICA_ASSIGNMENT" in err
    missing = orjson.dumps({"version": 1, "partitions": [
        {"topic": "refuse-me", "partition": 3, "replicas": [1]}]})
    run(broker, "log-reassign", "execute", "-", stdin=missing, check=5)
    for bad in (b"not json", b'{"version": 2, "partitions": []}',
                b'{"partitions": [{"topic": "t", "partition": 0, "replicas": [1, 1]}]}',
                b'{"partitions": [{"topic": "t", "partition": 0, "replicas": [1],'
                b' "log_dirs": ["/data"]}]}'):
        run(broker, "log-reassign", "verify", "-", stdin=bad, check=2)
    differs = orjson.dumps({"version": 1, "partitions": [
        {"topic": "refuse-me", "partition": 0, "replicas": [1, 2]}]})
    out = run(broker, "log-reassign", "verify", "-", stdin=differs, check=1).stdout.decode()
    assert out.splitlines()[1].endswith("\tdiffers")
    run(broker, "log-reassign", "plan", "--topics", "no-such-topic", check=5)
    run(broker, "log-reassign", "plan", "--brokers", "1,x", check=2)
    run(broker, "log-reassign", "elect", check=2)  # neither --preferred nor --unclean
    run(broker, "log-reassign", "execute", check=2)
    assert b"plan --topics" in run(broker, "log-reassign", "--topics-to-move-json-file",
                                   "f.json", check=2).stderr


def test_elect_and_cancel_reports(broker: Logd) -> None:
    run(broker, "log-topics", "create", "elect-me", "--partitions", "2")
    doc = orjson.loads(run(broker, "log-reassign", "elect", "--preferred", "elect-me",
                           "--json").stdout)
    assert doc == {"partitions": [
        {"topic": "elect-me", "partition": 0, "leader": 1, "error": "ELECTION_NOT_NEEDED"},
        {"topic": "elect-me", "partition": 1, "leader": 1, "error": "ELECTION_NOT_NEEDED"}]}
    lines = run(broker, "log-reassign", "elect", "--unclean", "elect-me:1").stdout
    assert lines.decode().splitlines() == ["TOPIC\tPARTITION\tLEADER\tRESULT",
                                           "elect-me\t1\t1\tnot needed"]
    run(broker, "log-reassign", "elect", "--preferred", "elect-me:9", check=5)
    assert orjson.loads(run(broker, "log-reassign", "cancel", "--json").stdout) == \
        {"partitions": []}
    last = run(broker, "log-reassign", "watch", "--json").stdout.decode().splitlines()[-1]
    assert orjson.loads(last)["done"] is True and orjson.loads(last)["percent"] == 100.0
