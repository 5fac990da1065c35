"""What ``pip install`` gives a user: man pages man(1) finds through PATH, completion files where
shells look for them, and no top-level import name but ``tidelog``.

These run against the environment the tests run in (an editable or a plain install of this
checkout), as a user of that venv meets it. They check that the files are there, not that they
are current: an editable install copies them when it runs, and the drift tests in tests/unit/cli
keep the sources true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PREFIX = Path(sys.prefix)
PROGRAMS = sorted(metadata.distribution("tidelog").entry_points.names)


def test_the_distribution_owns_only_the_tidelog_name(tmp_path: Path) -> None:
    top_level = metadata.distribution("tidelog").read_text("top_level.txt") or ""
    assert top_level.split() == ["tidelog"]
    for entry in metadata.distribution("tidelog").entry_points:
        assert entry.value.startswith("tidelog.tools."), entry
    # From a directory other than the checkout, `tools` is not importable, the programs are.
    probe = (
        "import importlib.util as u, sys\n"
        "assert u.find_spec('tools') is None, u.find_spec('tools')\n"
        "import tidelog.tools.log_topics as m\n"
        "print(m.NAME)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "log-topics"


@pytest.mark.parametrize(("section", "page"), [
    *(("1", prog) for prog in PROGRAMS if prog != "logd"),
    ("8", "logd"), ("5", "tidelog.toml"), ("7", "tidelog"),
])
def test_man_finds_every_page_through_path(section: str, page: str) -> None:
    installed = PREFIX / "share" / "man" / f"man{section}" / f"{page}.{section}"
    assert installed.is_file(), f"{installed} is not installed"
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    env = {"PATH": f"{PREFIX / 'bin'}{os.pathsep}/usr/bin:/bin", "HOME": str(ROOT)}
    result = subprocess.run(["man", "-w", section, page], capture_output=True, text=True,
                            env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == installed


@pytest.mark.parametrize("prog", PROGRAMS)
def test_completions_are_installed_where_shells_look(prog: str) -> None:
    share = PREFIX / "share"
    for installed in (
        share / "bash-completion" / "completions" / f"{prog}.bash",
        share / "zsh" / "site-functions" / f"_{prog}",
        share / "fish" / "vendor_completions.d" / f"{prog}.fish",
    ):
        assert installed.is_file(), f"{installed} is not installed"


def test_the_readme_bash_line_enables_every_completion() -> None:
    readme = (ROOT / "README.md").read_text()
    line = next(ln for ln in readme.splitlines() if ln.startswith("- bash: `"))
    command = line.split("`")[1].replace("<prefix>", str(PREFIX))
    script = f"{command}\ncomplete -p\n"
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    for prog in PROGRAMS:
        assert f" {prog}\n" in result.stdout, (prog, result.stdout)
