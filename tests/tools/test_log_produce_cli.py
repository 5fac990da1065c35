"""log-produce as a program against a real logd: the contracts scripts rely on (one record per
line, -K key split), headers, delimiters, tombstones, JSON input and report, files, failures
and their exit status, Ctrl-C flushing what was read, and a fast --help."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from client_tools_env import TIMEOUT, broker, env_for, run, tool
from logd_harness import Logd

__all__ = ["broker"]


def records(logd: Logd, topic: str) -> list[dict[str, object]]:
    out = run(logd, "log-consume", "-t", topic, "-o", "beginning", "-e", "--json").stdout
    return [orjson.loads(line) for line in out.splitlines()]


def test_lines_and_keys_contract(broker: Logd) -> None:
    run(broker, "log-produce", "-b", broker.bootstrap, "-t", "plain", stdin=b"a\nb\n")
    assert [(r["key"], r["value"]) for r in records(broker, "plain")] == [(None, "a"),
                                                                          (None, "b")]
    run(broker, "log-produce", "-t", "keyed", "-K", ":", stdin=b"k1:v1\nno-key\nk3:v:3")
    got = [(r["key"], r["value"]) for r in records(broker, "keyed")]
    assert got == [("k1", "v1"), (None, "no-key"), ("k3", "v:3")]


def test_headers_delimiter_null_value_and_files(broker: Logd, tmp_path: Path) -> None:
    first = tmp_path / "one.txt"
    first.write_bytes(b"x|NULL|y|")
    second = tmp_path / "two.txt"
    second.write_bytes(b"z")
    result = run(broker, "log-produce", "-t", "misc", "-D", "|", "--null-value", "NULL",
                 "-H", "src=test", "-H", "n=1", str(first), str(second))
    assert b"4 records" in result.stderr
    got = records(broker, "misc")
    assert [r["value"] for r in got] == ["x", None, "y", "z"]
    assert got[0]["headers"] == {"src": "test", "n": "1"}


def test_json_input_and_report(broker: Logd) -> None:
    lines = b"\n".join([
        b'{"key": "a", "value": "1", "headers": {"h": "v"}, "timestamp": 1700000000000}',
        b'{"value": {"nested": true}}',
        b'{"key": "/w==", "key_encoding": "base64", "value": null}',
        b"not json",
        b'{"value": "x", "partition": "zero"}',
    ]) + b"\n"
    result = run(broker, "log-produce", "-t", "json-in", "--input-format", "json", "--json",
                 stdin=lines, check=9)
    report = orjson.loads(result.stdout)
    assert (report["records"], report["failed"], report["invalid_input"]) == (3, 2, 2)
    assert report["topic"] == "json-in" and report["partitions"] == {"json-in": {"0": 3}}
    assert b"2 records were not written" in result.stderr
    got = records(broker, "json-in")
    assert got[0]["timestamp"] == 1700000000000 and got[0]["headers"] == {"h": "v"}
    assert got[1]["value"] == '{"nested":true}'
    assert got[2]["key"] == "/w==" and got[2]["key_encoding"] == "base64"
    assert got[2]["value"] is None


def test_unknown_partition_and_usage_errors(broker: Logd) -> None:
    result = run(broker, "log-produce", "-t", "plain", "-p", "7", stdin=b"a\n", check=1)
    assert b"no partition 7" in result.stderr
    run(broker, "log-produce", "-t", "plain", "--idempotent", "--acks", "1", check=2)
    run(broker, "log-produce", "stdin-only", check=2)  # no -t
    missing = run(broker, "log-produce", "-t", "plain", "/nonexistent/file", check=1)
    assert b"No such file" in missing.stderr


def test_every_codec_and_idempotence(broker: Logd) -> None:
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        run(broker, "log-produce", "-t", "codecs", "-z", codec, "--idempotent",
            stdin=b"%b\n" % codec.encode())
    run(broker, "log-produce", "-t", "codecs", "--acks", "0", stdin=b"fire-and-forget\n")
    values = [r["value"] for r in records(broker, "codecs")]
    assert values == ["gzip", "snappy", "lz4", "zstd", "fire-and-forget"]


def test_ctrl_c_flushes_what_was_read(broker: Logd) -> None:
    proc = subprocess.Popen([tool("log-produce"), "-vv", "-t", "interrupted", "--linger-ms",
                             "60000"], stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env_for(broker))
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write(b"one\ntwo\n")
    proc.stdin.flush()
    # Wait until the lines were read (-vv says so); the long linger keeps them buffered.
    first = proc.stderr.readline()
    assert b"read 8 bytes" in first, first
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=TIMEOUT)
    err = first + rest
    assert proc.returncode == 130, err.decode()
    assert b"interrupted" in err and b"Traceback" not in err and b"Exception" not in err
    assert [r["value"] for r in records(broker, "interrupted")] == ["one", "two"]


def test_help_is_fast_and_imports_no_client() -> None:
    env = dict(os.environ)
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "tidelog.tools.log_produce",
                          "--help"], capture_output=True, env=env, timeout=TIMEOUT,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert time.perf_counter() - started < 5
    assert b"--key-delimiter" in out.stdout
    imported = out.stderr.decode()
    for heavy in ("tidelog.client", "tidelog.protocol", "asyncio.base_events", "rich.console"):
        assert f" {heavy}\n" not in imported, heavy


def test_records_straddling_input_chunks(broker: Logd, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # In-process with tiny read chunks: every record and delimiter crosses chunk boundaries.
    import io

    from tidelog.cli.clients import produce as engine
    from tidelog.cli.output import Output
    from tidelog.cli.runner import make_program

    monkeypatch.setattr(engine, "CHUNK", 3)
    lines = [b"record-%d" % i for i in range(40)]
    for delim, topic in ((b"\n", "chunks-nl"), (b"<->", "chunks-multi")):
        source = tmp_path / f"{topic}.txt"
        source.write_bytes(delim.join(lines))  # the last record has no delimiter
        prog = make_program("log-produce", quiet=True, output=Output(io.BytesIO()))
        settings = engine.ProduceSettings(bootstrap=broker.bootstrap, topic=topic,
                                          files=[source], delimiter=delim)
        assert engine.produce(prog, settings) == 0
        out = run(broker, "log-consume", "-t", topic, "-e").stdout
        assert out.splitlines() == lines


def test_unreachable_broker_fails_in_bounded_time(broker: Logd) -> None:
    started = time.monotonic()
    result = run(broker, "log-produce", "-b", "127.0.0.1:1", "-t", "x", stdin=b"a\n", check=1)
    assert b"no broker reachable" in result.stderr
    assert time.monotonic() - started < 20  # retries are bounded, and not nested


def test_progress_bar_only_for_files_on_a_terminal(broker: Logd, tmp_path: Path) -> None:
    import pty

    source = tmp_path / "input.txt"
    source.write_bytes(b"x\n" * 1000)

    def stderr_of(*args: str) -> bytes:
        leader, follower = pty.openpty()
        try:
            proc = subprocess.run([tool("log-produce"), "-t", "progress", *args],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=follower, env=env_for(broker), timeout=TIMEOUT,
                                  check=True)
            assert proc.returncode == 0
            os.close(follower)
            chunks = []
            while True:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the terminal's other end is closed and drained
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(leader)

    on_terminal = stderr_of(str(source))
    assert b"producing" in on_terminal
    # The bar counts acknowledged records, and its last frame has every one of them.
    plain = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", on_terminal)
    assert re.search(rb"1000/1000\s+records acknowledged", plain), plain[-2000:]
    assert b"producing" not in stderr_of("-q", str(source))
    piped = run(broker, "log-produce", "-t", "progress", str(source)).stderr
    assert b"producing" not in piped and b"1000 records" in piped
