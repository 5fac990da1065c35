"""The README's logd and log-dump-segment examples run as written: the example config ships
and starts a broker, and the segment paths are where a default logd puts them (the default data
dir under a temporary HOME). The example config lists every setting at its default."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

from client_tools_env import TIMEOUT, env_for, tool
from logd_harness import Logd
from tidelog.broker.config import SETTINGS, BrokerConfig

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tidelog.toml"


def _section(title: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = re.split(r"\n##+ ", text.split(f"### {title}\n", 1)[1], maxsplit=1)[0]
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.+?)\n```", section, flags=re.S):
        lines += [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]
    return lines


def test_example_config_lists_every_setting_at_its_default(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    section = ""
    listed: dict[str, str] = {}
    for line in text.splitlines():
        header = re.fullmatch(r"\[(\w+)\]", line)
        if header:
            section = header.group(1)
        assignment = re.fullmatch(r"# (\w+) = .+", line)
        if assignment:
            listed[assignment.group(1)] = section
    assert listed == {s.name: s.section for s in SETTINGS}
    # Uncommented, every value parses and is the default (the example placeholders aside).
    placeholders = {"data_dir", "quorum", "controller_listen", "advertised_listen",
                    "metrics_listen"}
    uncommented = "\n".join(
        line[2:] if re.fullmatch(r"# (\w+) = .+", line)
        and line[2:].split(" ", 1)[0] not in placeholders else line
        for line in text.splitlines()
    )
    tomllib.loads(uncommented)
    config_file = tmp_path / "all.toml"
    config_file.write_text(uncommented)
    loaded = BrokerConfig.load(config_file, env={})
    default = BrokerConfig.load(None, env={})
    for setting in SETTINGS:
        if setting.name not in placeholders:
            assert getattr(loaded, setting.name) == getattr(default, setting.name), setting.name


def test_readme_logd_and_dump_segment_examples_run(tmp_path: Path) -> None:
    configured = [c for c in _section("logd") if "--config" in c]
    assert len(configured) == 1, configured
    words = shlex.split(configured[0])
    env_words = [w for w in words if re.fullmatch(r"[A-Z_]+=.*", w)]
    argv = words[len(env_words):]
    assert argv[0] == "logd"
    assert (ROOT / argv[argv.index("--config") + 1]).is_file()
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_DATA_HOME": "", **dict(w.split("=", 1) for w in env_words)}
    # As written, but on a free port; no --data-dir: the default under HOME.
    logd = Logd(tmp_path, *argv[1:], "--listen", "127.0.0.1:0", bare=True, env=env).start()
    try:
        client_env = env_for(logd)
        subprocess.run([tool("log-produce"), "-t", "orders", "-p", "0"], input=b"a\nb\n",
                       env=client_env, timeout=TIMEOUT, check=True, capture_output=True)
        described = subprocess.run([tool("log-topics"), "describe", "orders", "--json"],
                                   env=client_env, timeout=TIMEOUT, check=True,
                                   capture_output=True)
        # TIDELOG_NUM_PARTITIONS=3 from the example took effect.
        assert len(json.loads(described.stdout)["partitions"]) == 3
    finally:
        assert logd.stop() == 0, logd.log()
    segment_dir = home / ".local" / "share" / "tidelog" / "orders-0"
    assert (segment_dir / "00000000000000000000.log").is_file()
    dumps = _section("log-dump-segment")
    assert any(c.startswith("log-dump-segment ~/.local/share/tidelog/") for c in dumps), dumps
    shell_env = dict(os.environ, HOME=str(home))
    shell_env["PATH"] = f"{Path(tool('log-dump-segment')).parent}{os.pathsep}{shell_env['PATH']}"
    outputs = []
    for command in dumps:
        result = subprocess.run(["sh", "-c", f"set -e; {command}"], cwd=segment_dir,
                                env=shell_env, capture_output=True, timeout=TIMEOUT, check=False)
        assert result.returncode == 0, (command, result.stderr.decode())
        outputs.append(result.stdout.decode())
    assert "baseOffset: 0 lastOffset: 1 count: 2" in outputs[0]
    assert "payload: b" in "".join(outputs)
