"""What a person at a terminal sees: tables never cut a value (80 columns), control characters
in data are shown as escapes (never interpreted by the terminal) while a pipe gets the bytes
as they are, and -q keeps reset-offsets' plan table off stdout."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios

from client_tools_env import TIMEOUT, broker, env_for, run, tool
from logd_harness import Logd

__all__ = ["broker"]

LONG_TOPIC = "billing-events-from-the-eu-west-datacenter-after-deduplication-v2"


def on_terminal(logd: Logd, *argv: str, columns: int = 80) -> bytes:
    """stdout of a program whose stdout is a terminal ``columns`` wide."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = env_for(logd)
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    try:
        proc = subprocess.run([tool(argv[0]), *argv[1:]], stdin=subprocess.DEVNULL,
                              stdout=follower, stderr=subprocess.PIPE, env=env,
                              timeout=TIMEOUT, check=False)
        assert proc.returncode == 0, proc.stderr.decode()
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the other end is closed and everything was read
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).replace(b"\r\n", b"\n")
    finally:
        os.close(leader)


def test_tables_never_cut_a_value_at_80_columns(broker: Logd) -> None:
    run(broker, "log-topics", "create", LONG_TOPIC, "--partitions", "2")
    shown = on_terminal(broker, "log-topics", "describe", LONG_TOPIC)
    assert "…".encode() not in shown
    lines = shown.decode().splitlines()
    # Every row is whole on one line: the full name, then the partition's numbers.
    rows = [line.split() for line in lines if line.startswith(LONG_TOPIC)]
    assert [row[:2] for row in rows] == [[LONG_TOPIC, "0"], [LONG_TOPIC, "1"]], shown
    assert lines[0].split() == ["TOPIC", "PARTITION", "LEADER", "REPLICAS", "ISR", "OFFLINE",
                                "LOG-START", "HIGH-WATERMARK"]
    # A narrow table still gets drawn, with nothing cut either.
    short = on_terminal(broker, "log-topics", "list")
    assert LONG_TOPIC.encode() in short
    piped = run(broker, "log-topics", "describe", LONG_TOPIC).stdout.decode().splitlines()
    assert piped[1].split("\t")[0] == LONG_TOPIC  # a pipe stays tab-separated


def test_control_characters_are_escaped_on_a_terminal_only(broker: Logd) -> None:
    evil = b"\x1b]0;pwned\x07 and \x1b[2J \xc2\x9b31m"
    run(broker, "log-produce", "-t", "evil", stdin=evil + b"\n")
    shown = on_terminal(broker, "log-consume", "-t", "evil", "-e")
    assert b"\x1b" not in shown and b"\x07" not in shown and b"\xc2\x9b" not in shown
    assert shown == b"\\x1b]0;pwned\\x07 and \\x1b[2J \\u009b31m\n"
    piped = run(broker, "log-consume", "-t", "evil", "-e").stdout
    assert piped == evil + b"\n"
    # Tables and plain lines too: a topic name cannot carry them (Kafka's legal characters),
    # a header value can.
    run(broker, "log-produce", "-t", "evil", "-H", "h=\x1b[31mred", stdin=b"x\n")
    formatted = on_terminal(broker, "log-consume", "-t", "evil", "-o", "-1", "-e", "-f", "%h\\n")
    assert formatted == b"h=\\x1b[31mred\n"


def test_quiet_reset_offsets_prints_no_plan(broker: Logd) -> None:
    run(broker, "log-topics", "create", "planned", "--partitions", "1")
    loud = run(broker, "log-groups", "reset-offsets", "plan-g", "-t", "planned",
               "--to-earliest")
    assert loud.stdout.startswith(b"GROUP\tTOPIC")
    quiet = run(broker, "log-groups", "-q", "reset-offsets", "plan-g", "-t", "planned",
                "--to-earliest", "--execute")
    assert quiet.stdout == b"" and quiet.stderr == b""
    # --json is asked for explicitly: -q does not silence data a script wants.
    doc = run(broker, "log-groups", "-q", "reset-offsets", "plan-g", "-t", "planned",
              "--to-earliest", "--json")
    assert doc.stdout.startswith(b'{"group":"plan-g"')
