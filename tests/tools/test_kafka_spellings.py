"""Kafka's and kcat's habits, as their users type them: aliases that mean what ours mean, hints
for those we do not take, kcat's -k and -P FILE..., and per-action help with a plain usage
line."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from client_tools_env import broker, run
from logd_harness import Logd

__all__ = ["broker"]


def _values(logd: Logd, topic: str) -> list[bytes]:
    return run(logd, "log-consume", "-t", topic, "-e").stdout.splitlines()


def test_kafka_console_spellings(broker: Logd) -> None:
    b = broker.bootstrap
    run(broker, "log-topics", "--bootstrap-server", b, "--create", "--topic", "ks",
        "--partitions", "2")
    assert b"ks" in run(broker, "log-topics", "--list").stdout.splitlines()
    described = orjson.loads(run(broker, "log-topics", "--describe", "--topic", "ks",
                                 "--json").stdout)
    assert described["topic"] == "ks" and len(described["partitions"]) == 2
    run(broker, "log-produce", "--bootstrap-server", b, "--topic", "ks", "-p", "0",
        "--producer-property", "acks=all", "-X", "compression.codec=gzip",
        stdin=b"a\nb\nc\n")
    out = run(broker, "log-consume", "--bootstrap-server", b, "--topic", "ks",
              "--from-beginning", "--max-messages", "2").stdout
    assert out == b"a\nb\n"
    run(broker, "log-consume", "-t", "ks", "--group", "kg", "-e")
    lag = orjson.loads(run(broker, "log-groups", "--describe", "--group", "kg", "--json",
                           ).stdout.splitlines()[0])
    assert lag["group"] == "kg" and lag["lag"] == 0
    everyone = [orjson.loads(line) for line in run(
        broker, "log-groups", "describe", "--all-groups", "--json").stdout.splitlines()]
    assert {d["group"] for d in everyone} >= {"kg"}
    planned = run(broker, "log-groups", "--reset-offsets", "--group", "kg", "--topic", "ks",
                  "--to-earliest", "--dry-run").stdout.decode().splitlines()
    assert planned[0].startswith("GROUP\tTOPIC") and len(planned) == 3
    run(broker, "log-groups", "--delete", "--group", "kg")
    assert b"kg" not in run(broker, "log-groups", "list").stdout.splitlines()
    quorum = orjson.loads(run(broker, "log-quorum", "--bootstrap-server", b, "describe",
                              "--status", "--json").stdout)
    assert quorum["leader"] == quorum["leader_id"] >= 0


def test_kcat_spellings(broker: Logd, tmp_path: Path) -> None:
    run(broker, "log-produce", "-P", "-t", "kc", "-k", "fixed", "-Xlinger.ms=1",
        stdin=b"one\ntwo\n")
    rows = [orjson.loads(line) for line in
            run(broker, "log-consume", "-C", "-t", "kc", "-J", "-e").stdout.splitlines()]
    assert [(r["key"], r["value"]) for r in rows] == [("fixed", "one"), ("fixed", "two")]
    stamp = rows[1]["timestamp"]
    later = run(broker, "log-consume", "-t", "kc", "-o", f"s@{stamp}", "-e").stdout
    assert later.splitlines()[-1] == b"two" and b"one" not in later.splitlines()[1:]
    # kcat -P FILE...: each file is one record, newlines and all.
    first, second = tmp_path / "a.txt", tmp_path / "b.bin"
    first.write_bytes(b"line 1\nline 2\n")
    second.write_bytes(bytes(range(256)) * 4)
    run(broker, "log-produce", "-t", "files", "--file-per-record", "-k", "f", str(first),
        str(second))
    docs = [orjson.loads(line) for line in
            run(broker, "log-consume", "-t", "files", "-e", "--json").stdout.splitlines()]
    assert [d["value"] for d in docs][:1] == ["line 1\nline 2\n"]
    import base64

    assert base64.b64decode(docs[1]["value"]) == second.read_bytes()
    assert len(docs) == 2 and {d["key"] for d in docs} == {"f"}


@pytest.mark.parametrize(("argv", "names"), [
    (["log-consume", "-t", "x", "--consumer-property", "fetch.min.bytes=1"],
     "fetch.min.bytes"),
    (["log-consume", "-t", "x", "--property", "print.key=true"], "-K DELIM"),
    (["log-topics", "--zookeeper", "z:2181", "--list"], "-b/--bootstrap"),
    (["log-topics", "alter", "x", "--add-config", "a=b"], "--config KEY=VALUE"),
    (["log-groups", "--reset-offsets", "--group", "g", "--to-current"], "--execute"),
    (["log-consume", "-t", "x", "-o", "e@1700000000000"], "-c N"),
    (["log-produce", "-t", "x", "--sync"], "--acks all"),
    (["log-produce", "-t", "x", "-k", "a", "-K", ":"], "either -k KEY or -K DELIM"),
    (["log-produce", "-t", "x", "--file-per-record"], "needs FILE"),
])
def test_unknown_kafka_spellings_name_ours(broker: Logd, argv: list[str], names: str) -> None:
    result = run(broker, *argv, check=2)
    assert names.encode() in result.stderr, result.stderr.decode()


@pytest.mark.parametrize(("prog", "action", "usage", "present", "absent"), [
    ("log-topics", "create", "Usage: log-topics create [OPTIONS] TOPIC...",
     ["--partitions", "--if-not-exists", "--config"], ["--delete-config", "--internal"]),
    ("log-topics", "list", "Usage: log-topics list [OPTIONS] [TOPIC...]",
     ["--internal", "--json"], ["--partitions", "--config"]),
    ("log-groups", "reset-offsets", "Usage: log-groups reset-offsets [OPTIONS] GROUP",
     ["--to-earliest", "--execute"], ["--members", "--max"]),
    ("log-groups", "lag", "Usage: log-groups lag [OPTIONS] GROUP", ["--max"], ["--execute"]),
])
def test_each_action_has_its_own_help(broker: Logd, prog: str, action: str, usage: str,
                                      present: list[str], absent: list[str]) -> None:
    text = run(broker, prog, "-b", broker.bootstrap, action, "--help").stdout.decode()
    assert text.splitlines()[0] == usage
    for name in present:
        assert f" {name}" in text, (name, text)
    for name in absent:
        assert f" {name}" not in text, (name, text)
    whole = run(broker, prog, "--help").stdout.decode()
    assert whole.splitlines()[0].startswith(f"Usage: {prog} [OPTIONS] {{ACTION}}")
