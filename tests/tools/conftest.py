"""Program tests run the installed console scripts in subprocesses (pytest-console-scripts).

The scripts of the Python running the tests come first on PATH, so a version manager's shim
(pyenv) neither adds its startup time nor picks another interpreter.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _scripts_first_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", bindir + os.pathsep + os.environ.get("PATH", ""))
