"""Task 6.1 with a configured production: this handler rolls out only its embedded stack, and says so
before it builds or starts anything (without one, its evidence says it rehearsed on the runner)."""
from __future__ import annotations

from pathlib import Path

import pytest

from gitops.handlers import TaskContext
from gitops.tasklist import parser
from migration.tasks.t6_1_production_rollout import action
from tests.conftest import ROOT


def test_a_configured_production_is_refused_with_what_to_do(tmp_path: Path) -> None:
    tasklist, _ = parser.load(ROOT / "migration" / "B-1006.md")
    ctx = TaskContext(tasklist.tasks["6.1"], tmp_path, tmp_path / "work", 1,
                      {"GITOPS_PRODUCTION_URL": "https://assistant.example.org"}, {}, lambda m: None)
    with pytest.raises(RuntimeError) as raised:
        action(ctx)
    assert str(raised.value) == (
        "GITOPS_PRODUCTION_URL is set (https://assistant.example.org), but this handler rolls out only the embedded "
        "stack it starts on this machine: a production elsewhere is rolled out by its own controller from "
        "deploy/argo/assistant.yaml (docs/production.md, In a cluster). Unset it (and GITOPS_PROMETHEUS_URL) to "
        "rehearse here.")
    assert not (tmp_path / "work").exists()  # nothing was built or started
