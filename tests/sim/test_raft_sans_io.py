"""tidelog.raft is sans-I/O: its modules import no socket, clock, thread, file or event loop API.

Checked on the source (the import statements), so a later edit cannot slip one in.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tidelog.raft

RAFT_DIR = Path(tidelog.raft.__file__).parent
FORBIDDEN = {
    "asyncio",
    "io",
    "os",
    "pathlib",
    "selectors",
    "shutil",
    "signal",
    "socket",
    "subprocess",
    "tempfile",
    "threading",
    "time",
    "datetime",
    "multiprocessing",
    "concurrent",
}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_raft_imports_no_io() -> None:
    files = sorted(RAFT_DIR.glob("*.py"))
    assert len(files) >= 8
    for path in files:
        bad = imported_modules(path) & FORBIDDEN
        assert not bad, f"{path.name} imports {sorted(bad)}"
        assert "open(" not in path.read_text(), f"{path.name} opens a file"


def test_every_raft_module_states_its_contract() -> None:
    for path in sorted(RAFT_DIR.glob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc and len(doc) > 80, f"{path.name} lacks a module docstring"
