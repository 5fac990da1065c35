"""Human tables on a terminal, tab-separated lines in a pipe.

Format when stdout is not a terminal: one line per row, cells separated by a tab, a header line
first (``header=True``), cells with tabs or newlines escaped as ``\\t`` and ``\\n`` so a row is
always one line (``cut -f``/``awk -F'\\t'`` friendly). On a terminal the rows are drawn as a rich
table, imported only then.
"""

from __future__ import annotations

from collections.abc import Sequence

from tidelog.cli.output import Output


def _cell(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def write_table(
    out: Output,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    header: bool = True,
    title: str | None = None,
) -> None:
    """Write ``rows`` under ``columns`` to ``out`` in the form its reader wants."""
    if not out.is_terminal:
        lines = ["\t".join(columns)] if header else []
        lines.extend("\t".join(_cell(cell) for cell in row) for row in rows)
        out.lines(lines)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=header)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    console = Console(highlight=False)
    with console.capture() as capture:
        console.print(table)
    out.write(capture.get().encode("utf-8", "surrogateescape"))
