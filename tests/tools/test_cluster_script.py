"""scripts/cluster starts, lists and stops a 3-node local cluster; log-quorum reports on it
(exit 0 with a leader, 10 once the quorum has lost its majority)."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "cluster"


def _free_base() -> int:
    """A base port whose client ports (base..base+2) and quorum ports (+100..) are free."""
    for _ in range(50):
        base = random.randrange(20000, 60000)
        try:
            for port in [base + i for i in range(3)] + [base + 100 + i for i in range(3)]:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise AssertionError("no free ports")


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          timeout=60, check=False)


def test_cluster_start_status_stop(tmp_path: Path) -> None:
    base = _free_base()
    env = dict(os.environ, TIDELOG_CLUSTER_PORT=str(base))
    env.pop("TIDELOG_BOOTSTRAP", None)
    d = str(tmp_path / "c")
    try:
        started = _run("--dir", d, "start", env=env)
        assert started.returncode == 0, started.stderr
        assert f"TIDELOG_BOOTSTRAP=127.0.0.1:{base}" in started.stderr
        # status and stop read the ports start recorded, not the shell's environment.
        env.pop("TIDELOG_CLUSTER_PORT")
        status = _run("--dir", d, "status", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        rows = [line.split("\t") for line in status.stdout.splitlines()]
        assert [r[3] for r in rows[1:4]] == ["up", "up", "up"]
        assert any(r[0] == "LeaderId" and int(r[1]) in (1, 2, 3) for r in rows)
        quorum = subprocess.run(
            ["log-quorum", "-b", f"127.0.0.1:{base + 1}", "describe", "--status", "--json"],
            capture_output=True, text=True, env=env, timeout=30, check=True)
        doc = json.loads(quorum.stdout)
        assert {"leader_id", "leader_epoch", "high_watermark", "voters"} <= set(doc)
        # two of three voters gone: no leader, and the health check says so
        for n in (1, 2):
            os.kill(int((tmp_path / "c" / f"node{n}.pid").read_text()), 15)
        deadline = 40
        code = None
        for _ in range(deadline):
            res = subprocess.run(
                ["log-quorum", "-q", "-b", f"127.0.0.1:{base + 2}", "describe", "--status",
                 "--timeout", "2"], capture_output=True, text=True, env=env, timeout=30,
                check=False)
            code = res.returncode
            if code == 10:
                break
        assert code == 10
        assert _run("--dir", d, "status", env=env).returncode == 10
    finally:
        stopped = _run("--dir", d, "stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert not list((tmp_path / "c").glob("*.pid"))


def test_cluster_start_fails_loudly_when_a_node_cannot_listen(tmp_path: Path) -> None:
    base = _free_base()
    env = dict(os.environ, TIDELOG_CLUSTER_PORT=str(base))
    env.pop("TIDELOG_BOOTSTRAP", None)
    d = tmp_path / "c"
    with socket.socket() as taken:
        # Node 2's client port is in use: node 2 cannot start, the others can.
        taken.bind(("127.0.0.1", base + 1))
        taken.listen()
        started = _run("--dir", str(d), "start", env=env)
    try:
        assert started.returncode == 1, started.stderr
        assert "node 2" in started.stderr
        assert "Address already in use" in started.stderr
        assert "cluster: up" not in started.stderr
        # The nodes it did start are stopped again: nothing is left running.
        assert not list(d.glob("*.pid"))
    finally:
        _run("--dir", str(d), "stop", env=env)
