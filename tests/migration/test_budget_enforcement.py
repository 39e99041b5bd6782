"""Task 3.3 end to end: both environments, GEPA's overshoot, the stops' constitution checks, overhead."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitops import parser
from gitops.execute import run_handler
from gitops.handlers import TaskContext
from migration import budget_enforcement as task
from tests.conftest import ROOT


@pytest.mark.slow
def test_handler_end_to_end(tmp_path: Path) -> None:
    tasklist, _ = parser.load(ROOT / "migration" / "B-1006.md")
    ctx = TaskContext(tasklist.tasks["3.3"], ROOT, tmp_path, 1, dict(os.environ), {}, lambda message: None)
    result = run_handler(task.HANDLER, ctx)
    assert result.error is None, result.error
    statuses = {c["criterion"]: c["status"] for c in result.checks}
    overhead = next(k for k in statuses if k.startswith("Performance impact"))
    assert {k: v for k, v in statuses.items() if k != overhead} == dict.fromkeys(
        [k for k in statuses if k != overhead], "passed"), result.checks
    found = task.record(ctx)["candidate"]["optimizers"]["gepa"]
    assert found["unguarded"]["usage"]["metric_calls"] > task.N
    assert found["guarded"]["metric_calls"]["usage"]["metric_calls"] == task.N
