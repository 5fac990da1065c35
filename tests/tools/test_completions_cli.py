"""Shell completion as a user at a prompt meets it: actions, option values and topic and group
names from the broker in TIDELOG_BOOTSTRAP (silent when there is none). bash runs the committed
scripts; zsh and fish are not installed here, so their scripts are checked for the same
completions in their own syntax."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from client_tools_env import broker, run
from logd_harness import Logd
from tidelog.broker.config import BrokerConfig, ConfigError

__all__ = ["broker"]

ROOT = Path(__file__).resolve().parents[2]
COMPLETIONS = ROOT / "completions"


def complete(prog: str, words: list[str], bootstrap: str, timeout: str = "30"
             ) -> tuple[list[str], str]:
    """What bash offers (and prints on stderr) for ``prog words...`` (the last word is the one
    being completed)."""
    function = "_" + prog.replace("-", "_")
    line = " ".join(f"'{w}'" for w in [prog, *words])
    script = (f"source '{COMPLETIONS / (prog + '.bash')}'; COMP_WORDS=({line}); "
              f"COMP_CWORD={len(words)}; {function}; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
    # A loaded test machine may need longer than a prompt's two seconds.
    env = dict(os.environ, TIDELOG_BOOTSTRAP=bootstrap, TIDELOG_COMPLETE_TIMEOUT=timeout,
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env,
                            timeout=60, check=True)
    return [w for w in result.stdout.splitlines() if w], result.stderr


@pytest.fixture(scope="module")
def named(broker: Logd) -> Logd:
    run(broker, "log-topics", "create", "comp-orders")
    run(broker, "log-topics", "create", "comp-other")
    run(broker, "log-produce", "-t", "comp-orders", stdin=b"x\n")
    run(broker, "log-consume", "-t", "comp-orders", "-g", "comp-billing", "-e")
    return broker


def test_actions_complete_in_bash(named: Logd) -> None:
    assert complete("log-topics", [""], named.bootstrap)[0] == [
        "create", "list", "describe", "alter", "delete"]
    assert complete("log-topics", ["de"], named.bootstrap)[0] == ["describe", "delete"]
    assert complete("log-groups", ["-b", "h:1", "re"], named.bootstrap)[0] == ["reset-offsets"]


def test_topic_and_group_names_complete_from_the_broker(named: Logd) -> None:
    b = named.bootstrap
    assert complete("log-topics", ["describe", "comp-o"], b)[0] == ["comp-orders", "comp-other"]
    assert complete("log-consume", ["-t", "comp-or"], b)[0] == ["comp-orders"]
    assert complete("log-produce", ["--topic", "comp-ot"], b)[0] == ["comp-other"]
    assert complete("log-groups", ["describe", "comp-"], b)[0] == ["comp-billing"]
    assert complete("log-consume", ["-g", "comp-b"], b)[0] == ["comp-billing"]


def test_no_broker_completes_nothing_and_says_nothing() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        refused = f"127.0.0.1:{s.getsockname()[1]}"
    words, stderr = complete("log-topics", ["describe", ""], refused, timeout="1")
    assert words == [] and stderr == ""


def test_logd_values_complete_and_are_the_ones_logd_takes(named: Logd) -> None:
    from tidelog.tools.logd import _LEVELS, ROLES

    assert complete("logd", ["--log-level", "w"], named.bootstrap)[0] == ["warning"]
    assert complete("logd", ["--roles", ""], named.bootstrap)[0] == list(ROLES)
    for level in _LEVELS:
        assert BrokerConfig.load(None, env={}, overrides={"log_level": level}).log_level == level
    for roles in ROLES:
        # Node 1 is the voter a controller must be; a broker alone leaves voting to node 2.
        quorum = "1@127.0.0.1:9192" if "controller" in roles else "2@127.0.0.1:9192"
        BrokerConfig.load(None, env={}, overrides={"roles": roles, "quorum": quorum,
                                                   "node_id": 1})
    with pytest.raises(ConfigError):
        BrokerConfig.load(None, env={}, overrides={"roles": "bogus"})


def test_zsh_and_fish_offer_the_same() -> None:
    zsh = (COMPLETIONS / "_log-topics").read_text()
    assert "':action:(create list describe alter delete)'" in zsh
    assert ('compadd -- ${(f)"$(log-topics list -q --timeout "${TIDELOG_COMPLETE_TIMEOUT:-2}" '
            '2>/dev/null)"}') in zsh
    assert "(debug info warning error critical)" in (COMPLETIONS / "_logd").read_text()
    fish = (COMPLETIONS / "log-groups.fish").read_text()
    assert ("complete -c log-groups -f -n __fish_use_subcommand -a "
            "'list describe reset-offsets lag delete'") in fish
    assert "-a '(log-groups list -q --timeout 2 2>/dev/null)'" in fish
    assert "-a '(log-topics list -q --timeout 2 2>/dev/null)'" in fish
