"""The README's examples for log-produce, log-consume and log-topics run as written against a
real logd (``tail -F`` gets a time limit so the pipeline ends)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from client_tools_env import TIMEOUT, broker, env_for, tool
from logd_harness import Logd

__all__ = ["broker"]

ROOT = Path(__file__).resolve().parents[2]


def _examples() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("### log-produce, log-consume, log-topics", 1)[1].split("\n### ", 1)[0]
    commands = []
    for block in re.findall(r"```sh\n(.+?)\n```", section, flags=re.S):
        commands += [line for line in block.splitlines() if line.strip()]
    return commands


def test_readme_examples_run(broker: Logd, tmp_path: Path) -> None:
    commands = _examples()
    assert any(c.startswith("tail -F app.log | log-produce") for c in commands)
    assert any("| jq ." in c for c in commands)
    (tmp_path / "app.log").write_text("started\nserving\n")
    env = env_for(broker)
    env["PATH"] = f"{Path(tool('log-produce')).parent}{os.pathsep}{ROOT / 'scripts'}" \
                  f"{os.pathsep}{env['PATH']}"
    outputs = []
    for command in commands:
        shell = command.replace("tail -F", "timeout 1 tail -F")
        shell = shell.replace("scripts/topic-pipe", "topic-pipe")
        result = subprocess.run(["sh", "-c", f"set -e; {shell}"], cwd=tmp_path, env=env,
                                capture_output=True, timeout=TIMEOUT, check=False)
        assert result.returncode == 0, (command, result.stderr.decode())
        outputs.append(result.stdout)
    joined = b"".join(outputs)
    # Key k1 hashes to partition 2 of 3 (its offset there depends on the sticky partition).
    assert b"started" in joined and b'"level": "info"' in joined
    assert re.search(rb"^2 \d+ k1 v1$", joined, flags=re.M)
    shouted = subprocess.run([tool("log-consume"), "-t", "shouted", "-e"], env=env,
                             capture_output=True, timeout=TIMEOUT, check=True).stdout
    # Two copies: the pipeline, then the script.
    assert sorted(shouted.splitlines()) == sorted([b"STARTED", b"SERVING", b"V1", b"V2"] * 2)
