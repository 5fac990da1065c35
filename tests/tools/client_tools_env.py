"""Shared set-up of the client program tests: one logd per test module, and a runner for the
installed console scripts with TIDELOG_BOOTSTRAP pointing at it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from logd_harness import TEST_BROKER_ENV, Logd, serving

BIN = Path(sys.executable).parent
TIMEOUT = 60


def tool(name: str) -> str:
    found = BIN / name
    return str(found) if found.exists() else name


def module_broker(tmp_path_factory: pytest.TempPathFactory, *args: str,
                  env: dict[str, str] | None = None) -> Iterator[Logd]:
    """The body of a module's broker fixture: a logd with ``args`` and TEST_BROKER_ENV (no
    initial rebalance delay: every log-consume -g would wait 3 s) under ``env``, stopped
    cleanly."""
    yield from serving(tmp_path_factory.mktemp("logd"), *args,
                       env={**TEST_BROKER_ENV, **(env or {})})


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logd]:
    yield from module_broker(tmp_path_factory, "--num-partitions", "1")


#: Bytecode of the programs, kept across the runs of a session: an installed program has its
#: .pyc files, and compiling every module on each start would triple these tests' time.
PYCACHE = Path(tempfile.gettempdir()) / f"tidelog-tools-tests-pycache-{os.getuid()}"


def env_for(logd: Logd) -> dict[str, str]:
    env = dict(os.environ)
    env["TIDELOG_BOOTSTRAP"] = logd.bootstrap
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def run(logd: Logd, prog: str, *args: str, stdin: bytes | None = None,
        check: int | None = 0) -> subprocess.CompletedProcess[bytes]:
    """Run ``prog`` with ``args``; assert its exit status unless ``check`` is None."""
    result = subprocess.run(
        [tool(prog), *args], input=stdin if stdin is not None else b"", capture_output=True,
        timeout=TIMEOUT, env=env_for(logd), check=False,
    )
    if check is not None:
        assert result.returncode == check, (result.returncode, result.stderr.decode())
    return result
