"""Human tables on a terminal, tab-separated lines in a pipe.

Format when stdout is not a terminal: one line per row, cells separated by a tab, a header line
first (``header=True``), cells with tabs or newlines escaped as ``\\t`` and ``\\n`` so a row is
always one line (``cut -f``/``awk -F'\\t'`` friendly). On a terminal the rows are drawn as a rich
table (imported only then) when it fits the terminal's width; when it would not, plain columns
aligned with two spaces are printed instead, each row on one line, which the terminal may wrap.
A value is never cut short: no ellipsis, no lost characters. Control characters in cells are
shown as escapes on a terminal (see :mod:`tidelog.cli.output`).
"""

from __future__ import annotations

from collections.abc import Sequence

from tidelog.cli.output import Output, escape_controls_text


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
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    cells = [[escape_controls_text(_cell(cell)) for cell in row] for row in rows]
    console = Console(highlight=False)
    shown = [list(columns)] if header else []
    widths = [max((cell_len(r[i]) for r in shown + cells if i < len(r)), default=0)
              for i in range(len(columns))]
    # A rich table with borders and one space of padding each side: 3 columns per cell + 1.
    if sum(widths) + 3 * len(widths) + 1 > console.width:
        lines = []
        for row in shown + cells:
            padded = [c + " " * (widths[i] - cell_len(c)) for i, c in enumerate(row)]
            lines.append("  ".join(padded).rstrip())
        if title:
            lines.insert(0, title)
        out.write_raw(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
        return
    table = Table(title=title, show_header=header)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in cells:
        # Text, not str: a value like "[red]" is data, not rich markup.
        table.add_row(*(Text(cell) for cell in row))
    with console.capture() as capture:
        console.print(table)
    out.write_raw(capture.get().encode("utf-8", "surrogateescape"))
