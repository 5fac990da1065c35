"""Man pages and completions cannot drift from the programs: every console script has a man
page naming each of its options, and the committed completions equal freshly generated ones."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from tidelog.cli.completions import generate_all, render
from tidelog.cli.introspect import CommandSpec, command_spec, console_scripts, load_app

ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = console_scripts(ROOT / "pyproject.toml")


def _spec(prog: str) -> CommandSpec:
    return command_spec(prog, load_app(SCRIPTS[prog]))


def _man_page(prog: str) -> Path:
    """Section 1 for tools, section 8 for the daemon (logd)."""
    daemon = ROOT / "man" / f"{prog}.8"
    return daemon if daemon.is_file() else ROOT / "man" / f"{prog}.1"


def _man_text(prog: str) -> str:
    """The man page with roff's escaped hyphens and font switches made plain."""
    text = _man_page(prog).read_text(encoding="utf-8")
    text = text.replace("\\-", "-").replace("\\e", "\\")
    return re.sub(r"\\f[BIRP]", "", text)


def test_there_are_programs() -> None:
    assert "log-dump-segment" in SCRIPTS


@pytest.mark.parametrize("prog", sorted(SCRIPTS))
def test_man_page_documents_every_option(prog: str) -> None:
    page = _man_page(prog)
    assert page.is_file(), f"{prog} has no man page at man/{prog}.1 (or .8)"
    text = _man_text(prog)
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES"):
        assert f".SH {section}" in text, f"{page.name} lacks a {section} section"
    assert "tidelog (7)" in text or "tidelog(7)" in text.replace(" (7)", "(7)")
    options_section = text.split(".SH OPTIONS", 1)[1].split("\n.SH ", 1)[0]
    for name in _spec(prog).option_names():
        # Whole-word match, so --json does not pass for --json-foo.
        assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", options_section), (
            f"{page.name} does not document {name} in OPTIONS"
        )
    for code in ("0", "1", "2", "130"):
        exit_section = text.split(".SH EXIT STATUS", 1)[1].split("\n.SH ", 1)[0]
        assert f".B {code}\n" in exit_section, f"man/{prog}.1 does not document exit status {code}"


def test_committed_completions_are_fresh() -> None:
    specs = [_spec(prog) for prog in SCRIPTS]
    for relative, text in generate_all(specs).items():
        path = ROOT / "completions" / relative
        assert path.is_file(), f"missing {path}: run scripts/gen-completions"
        assert path.read_text(encoding="utf-8") == text, (
            f"stale {path}: run scripts/gen-completions"
        )


def test_generator_check_mode_agrees() -> None:
    result = subprocess.run(
        [str(ROOT / "scripts" / "gen-completions"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_generator_writes_every_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(ROOT / "scripts" / "gen-completions"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for prog in SCRIPTS:
        for relative in (f"{prog}.bash", f"_{prog}", f"{prog}.fish"):
            assert (tmp_path / relative).read_text() == (
                ROOT / "completions" / relative
            ).read_text()
    # A stale file is caught by --check.
    (tmp_path / "log-dump-segment.bash").write_text("# old\n")
    check = subprocess.run(
        [str(ROOT / "scripts" / "gen-completions"), "--check", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 1
    assert "stale" in check.stderr


def _bash_complete(script: Path, words: list[str], cwd: Path) -> list[str]:
    line = " ".join(f"'{w}'" for w in words)
    program = (
        f"source '{script}'; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
        '_log_dump_segment; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    result = subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, cwd=cwd, check=True
    )
    return [w for w in result.stdout.splitlines() if w]


def test_bash_completion_completes_options_and_files(tmp_path: Path) -> None:
    script = ROOT / "completions" / "log-dump-segment.bash"
    (tmp_path / "00000000000000000000.log").write_bytes(b"")
    (tmp_path / "meta.properties").write_text("")
    assert _bash_complete(script, ["log-dump-segment", "--ve"], tmp_path) == [
        "--verify-index",
        "--verbose",
    ]
    assert _bash_complete(script, ["log-dump-segment", "0"], tmp_path) == [
        "00000000000000000000.log"
    ]
    assert _bash_complete(script, ["log-dump-segment", "--max-bytes", ""], tmp_path) == []


def test_renderers_quote_help_text() -> None:
    from tidelog.cli.introspect import ArgumentSpec, OptionSpec

    spec = CommandSpec(
        "demo-prog",
        "Demo.",
        (
            OptionSpec(("-f", "--format"), "It's [the] format", True, "choice", ("a", "b")),
            OptionSpec(("--out",), "Where\\to", True, "dir"),
        ),
        (ArgumentSpec("files", "file", -1),),
    )
    zsh = render("zsh", spec)
    assert "'(-f --format)--format=[It'\\''s \\[the\\] format]:value:(a b)'" in zsh
    assert "--out=[Where\\\\to]:value:_files -/" in zsh.replace("'", "")
    fish = render("fish", spec)
    assert "complete -c demo-prog -s f -l format -r -f -a 'a b' -d 'It\\'s [the] format'" in fish
    assert "-l out -r -F -d 'Where\\\\to'" in fish
    bash = render("bash", spec)
    assert "-f|--format) COMPREPLY=($(compgen -W 'a b' -- \"$cur\")); return 0 ;;" in bash
    assert "--out) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d" in bash
    subprocess.run(["bash", "-n"], input=bash, text=True, check=True)


def _client_programs() -> list[str]:
    """The programs that talk to brokers: their main goes through run_app, which takes -X and
    --command-config before typer parses."""
    import importlib
    import inspect

    return sorted(p for p, entry in SCRIPTS.items()
                  if "run_app(" in inspect.getsource(importlib.import_module(entry.split(":")[0])))


def test_the_client_programs_are_found() -> None:
    assert {"log-topics", "log-access", "log-consume"} <= set(_client_programs())
    assert "logd" not in _client_programs()


@pytest.mark.parametrize("prog", _client_programs())
def test_client_programs_document_the_security_options(
        prog: str, capsys: pytest.CaptureFixture[str]) -> None:
    import importlib

    from tidelog.cli.app import run_app

    options_section = _man_text(prog).split(".SH OPTIONS", 1)[1].split("\n.SH ", 1)[0]
    for name in ("-X", "--command-config"):
        assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", options_section), (
            f"{_man_page(prog).name} does not document {name} in OPTIONS")
    app = importlib.import_module(SCRIPTS[prog].split(":")[0]).app
    with pytest.raises(SystemExit) as done:
        run_app(app, prog, argv=["--help"])
    assert done.value.code in (0, None)
    text = " ".join(capsys.readouterr().out.split())
    assert "-X KEY=VALUE" in text and "--command-config FILE" in text, text[-400:]
