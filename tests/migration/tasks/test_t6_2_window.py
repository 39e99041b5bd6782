"""Task 6.2's window: on GitHub as long as the task list's steps say, nothing more to wait in the run."""
from __future__ import annotations

from pathlib import Path

import pytest

from gitops.handlers import TaskContext
from gitops.tasklist import parser
from migration.tasks.t6_2_post_deployment_validation import HANDLER, scheduled_window, window_length
from tests.conftest import ROOT


def context(tmp_path: Path, scheduled: bool) -> TaskContext:
    task = parser.load(ROOT / "migration" / "B-1006.md")[0].tasks["6.2"]
    return TaskContext(task, tmp_path, tmp_path / "6.2", 1, {}, {}, scheduled_windows=scheduled)


def test_on_github_the_window_is_the_task_lists_24_to_48_hours_lower_bound(tmp_path):
    assert "Monitor performance metrics for 24-48 hours" in context(tmp_path, True).task.do
    assert window_length(context(tmp_path, True)) == 24 * 3600
    assert HANDLER.window is not None and HANDLER.window.length is window_length


def test_in_the_run_nothing_more_is_waited_for(tmp_path):
    assert window_length(context(tmp_path, False)) == 0.0


def test_other_wordings_and_a_missing_one():
    assert scheduled_window(("Watch it for 2 days",)) == 2 * 86400
    assert scheduled_window(("Deploy", "Monitor for 36 hours")) == 36 * 3600
    with pytest.raises(RuntimeError) as caught:
        scheduled_window(("Validate all system functionality in production",))
    assert str(caught.value) == ("Task 6.2's steps say for how long production is watched on GitHub (\"Monitor "
                                 "performance metrics for 24-48 hours\"): none of them does; say it in "
                                 "migration/B-1006.md")
