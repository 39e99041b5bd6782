"""What status shows: long tables (past RICH_ROWS rows, plain aligned lines, all of them) and a task
whose result never arrived."""
from __future__ import annotations

import io

from rich.console import Console

from gitops.plan import planner, transitions
from gitops.plan.transitions import Started
from gitops.state import document
from gitops.ui.view import RICH_ROWS, _print_table, print_status, status_json
from tests.gitops.builders import task, tasklist


def test_a_long_table_prints_every_row_aligned_without_rich_layout():
    out = io.StringIO()
    rows = [(f"1.{i}", "⏳ pending" if i % 2 else "✓ done", "x" * (i % 7)) for i in range(1, RICH_ROWS + 2)]
    _print_table(Console(file=out, width=40), ("Task", "Status", "Note"), rows)
    lines = out.getvalue().splitlines()
    assert len(lines) == RICH_ROWS + 2  # the header and every row, none wrapped at width 40
    assert lines[0] == "Task   Status      Note"
    assert lines[1] == "1.1    ⏳ pending  x"  # ⏳ is two cells wide: the columns stay aligned
    assert lines[2] == "1.2    ✓ done      xx"


def test_status_shows_a_lost_result_as_interrupted_to_retry():
    tl = tasklist(task("1.1"))
    state = document.new_state(tl, "2026-12-04T00:00:00+00:00")
    state, _ = transitions.apply(tl, state, Started("1.1"), "now")
    state, _ = transitions.apply(tl, state, transitions.Lost("1.1", 1, "its hand-over is missing"), "now")
    doc = status_json(tl, state, planner.next_step(tl, state, frozenset({"1.1"})), "state.json")
    assert (doc["tasks"][0]["status"], doc["tasks"][0]["interrupted"], doc["next"]["kind"]) == (
        "failed", True, "interrupted")
    out = io.StringIO()
    print_status(Console(file=out, width=200), doc)
    assert "⚠️ interrupted: retry it" in out.getvalue() and "❌" not in out.getvalue()
