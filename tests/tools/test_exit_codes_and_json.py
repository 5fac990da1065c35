"""One exit-code table and one JSON vocabulary for every program, as tidelog(7) documents them:
the table is the code's, each condition returns its code from every program that meets it, and
every field name any program's --json writes is in the vocabulary."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from client_tools_env import broker, run
from logd_harness import Logd
from tidelog.cli.dump.settings import DumpExit
from tidelog.cli.exit_codes import MEANINGS, ExitCode

__all__ = ["broker"]

ROOT = Path(__file__).resolve().parents[2]


def _man(name: str) -> str:
    text = (ROOT / "man" / name).read_text()
    return text.replace("\\-", "-").replace("\\e", "\\")


def _section(text: str, title: str) -> str:
    return text.split(f".SH {title}\n", 1)[1].split("\n.SH ", 1)[0]


def _codes(section: str) -> set[int]:
    return {int(c) for c in re.findall(r"^\.B (\d+)$", section, flags=re.M)}


def test_tidelog7_table_is_the_code_table() -> None:
    assert _codes(_section(_man("tidelog.7"), "EXIT STATUS")) == {int(c) for c in ExitCode}
    assert set(MEANINGS) == set(ExitCode)
    assert (DumpExit.CORRUPT, DumpExit.INDEX_MISMATCH) == (ExitCode.CORRUPT,
                                                           ExitCode.INDEX_MISMATCH)


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "man").glob("log-*.1")))
def test_every_man_page_uses_the_table(page: str) -> None:
    codes = _codes(_section(_man(page), "EXIT STATUS"))
    assert codes <= {int(c) for c in ExitCode}, codes


@pytest.fixture(scope="module")
def topic(broker: Logd) -> str:
    run(broker, "log-topics", "create", "codes", "--partitions", "2")
    run(broker, "log-produce", "-t", "codes", "-p", "0", "-K", ":", "-H", "h=v",
        stdin=b"k:one\n")
    return "codes"


@pytest.mark.parametrize(("argv", "code"), [
    (["log-topics", "describe", "nope"], ExitCode.NOT_FOUND),
    (["log-topics", "alter", "nope", "--partitions", "3"], ExitCode.NOT_FOUND),
    (["log-topics", "delete", "nope"], ExitCode.NOT_FOUND),
    (["log-consume", "-t", "nope", "-e"], ExitCode.NOT_FOUND),
    (["log-consume", "-t", "codes", "-p", "7", "-e"], ExitCode.NOT_FOUND),
    (["log-consume", "-t", "nope", "-g", "g", "-e"], ExitCode.NOT_FOUND),
    (["log-groups", "describe", "nope"], ExitCode.NOT_FOUND),
    (["log-groups", "lag", "nope"], ExitCode.NOT_FOUND),
    (["log-groups", "delete", "nope"], ExitCode.NOT_FOUND),
    (["log-groups", "reset-offsets", "g", "-t", "codes:7", "--to-earliest"],
     ExitCode.NOT_FOUND),
    (["log-groups", "reset-offsets", "g", "-t", "nope", "--to-earliest"], ExitCode.NOT_FOUND),
    (["log-reassign", "plan", "--topics", "nope"], ExitCode.NOT_FOUND),
    (["log-reassign", "elect", "--preferred", "codes:7"], ExitCode.NOT_FOUND),
    (["log-topics", "create", "codes"], ExitCode.EXISTS),
    (["log-consume", "-t", "codes", "--bogus"], ExitCode.USAGE),
    (["log-topics", "frobnicate"], ExitCode.USAGE),
])
def test_one_code_per_condition(broker: Logd, topic: str, argv: list[str],
                                code: ExitCode) -> None:
    result = run(broker, *argv, check=None)
    assert result.returncode == code, (argv, result.returncode, result.stderr.decode())


def test_a_topic_the_broker_will_not_create_is_not_found(tmp_path: Path) -> None:
    strict = Logd(tmp_path, "--auto-create-topics", "false").start()
    try:
        # --timeout: the producer waits that long for the topic to appear (as Kafka's
        # producer waits max.block.ms) before saying it does not exist; the default 30 s
        # was this test's whole time.
        result = run(strict, "log-produce", "-t", "nope", "--timeout", "5", stdin=b"x\n",
                     check=None)
        assert result.returncode == ExitCode.NOT_FOUND, result.stderr.decode()
        assert b"does not exist" in result.stderr
    finally:
        assert strict.stop() == 0


def _vocabulary() -> set[str]:
    section = _section(_man("tidelog.7"), "JSON FIELDS")
    words: set[str] = set()
    for line in section.splitlines():
        if line.startswith((".B ", ".BR ")):
            words |= set(re.findall(r"\b[a-z][a-z_]*\b", line.split(" ", 1)[1]))
    return words


#: Objects whose keys are data (topic, config, header names), not field names.
_DATA_KEYED = {"configs", "assignment", "headers"}


def _keys(doc: Any, parent: str = "") -> Iterator[str]:
    if isinstance(doc, dict):
        if parent in _DATA_KEYED:
            return
        if parent == "partitions":  # log-produce: topic -> {partition: count}
            return
        for key, value in doc.items():
            yield key
            yield from _keys(value, key)
    elif isinstance(doc, list):
        for item in doc:
            yield from _keys(item, parent)


def test_every_program_json_speaks_one_vocabulary(broker: Logd, topic: str) -> None:
    group = "vocab"
    run(broker, "log-consume", "-t", topic, "-g", group, "-e")
    outputs = [
        ["log-topics", "list", "--json"],
        ["log-topics", "describe", topic, "--json"],
        ["log-topics", "create", "vocab-new", "--json"],
        ["log-topics", "alter", "vocab-new", "--partitions", "2", "--json"],
        ["log-consume", "-t", topic, "-e", "--json"],
        ["log-groups", "list", "--json"],
        ["log-groups", "describe", group, "--json"],
        ["log-groups", "describe", group, "--state", "--json"],
        ["log-groups", "lag", group, "--json"],
        ["log-groups", "reset-offsets", group, "--to-earliest", "--json"],
        ["log-quorum", "describe", "--status", "--json"],
        ["log-quorum", "describe", "--replication", "--json"],
        ["log-top", "--once", "--json", "--interval", "0.2"],
        ["log-reassign", "plan", "--topics", topic, "--json"],
        ["log-reassign", "verify", "--json"],
        ["log-reassign", "watch", "--json"],
        ["log-reassign", "cancel", "--json"],
        ["log-reassign", "elect", "--preferred", topic, "--json"],
        ["log-topics", "delete", "vocab-new", "--json"],
    ]
    vocabulary = _vocabulary()
    assert {"topic", "partition", "group", "offset", "leader"} <= vocabulary
    docs: dict[str, list[dict[str, Any]]] = {}
    for argv in outputs:
        out = run(broker, *argv).stdout
        docs[" ".join(argv)] = [orjson.loads(line) for line in out.splitlines()]
        assert docs[" ".join(argv)], argv
        for doc in docs[" ".join(argv)]:
            unknown = set(_keys(doc)) - vocabulary
            assert not unknown, (argv, unknown, doc)
    produced = run(broker, "log-produce", "-t", topic, "--json", stdin=b"z\n").stdout
    assert not set(_keys(orjson.loads(produced))) - vocabulary
    # The same thing has the same name everywhere.
    assert docs[f"log-topics describe {topic} --json"][0]["topic"] == topic
    for argv, found in docs.items():
        if argv.startswith(("log-groups describe", "log-groups lag", "log-groups reset")):
            assert all(d["group"] == group for d in found), (argv, found)
