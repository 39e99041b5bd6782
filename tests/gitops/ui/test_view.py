"""Long tables: past RICH_ROWS rows, status and plan print plain aligned lines (fast), all of them."""
from __future__ import annotations

import io

from rich.console import Console

from gitops.ui.view import RICH_ROWS, _print_table


def test_a_long_table_prints_every_row_aligned_without_rich_layout():
    out = io.StringIO()
    rows = [(f"1.{i}", "⏳ pending" if i % 2 else "✓ done", "x" * (i % 7)) for i in range(1, RICH_ROWS + 2)]
    _print_table(Console(file=out, width=40), ("Task", "Status", "Note"), rows)
    lines = out.getvalue().splitlines()
    assert len(lines) == RICH_ROWS + 2  # the header and every row, none wrapped at width 40
    assert lines[0] == "Task   Status      Note"
    assert lines[1] == "1.1    ⏳ pending  x"  # ⏳ is two cells wide: the columns stay aligned
    assert lines[2] == "1.2    ✓ done      xx"
